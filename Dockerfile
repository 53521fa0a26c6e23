# syntax=docker/dockerfile:1.7
#
# Customer order service image: gunicorn serving `app:create_app()`.
# The same image runs the SMS worker (`flask --app app sms-worker`) and the one-shot
# migration job (`flask --app app migrate`); deploy/compose.yaml wires them.
#
# Base image: pinned to an exact Python patch release on Debian 12 (bookworm). To pin the
# digest as well, resolve it where a registry is reachable and append it, e.g.
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm --format '{{json .Manifest.Digest}}'
#   ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>
# and let Dependabot/Renovate ("docker" ecosystem) keep it current.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --------------------------------------------------------------------------------------
# Stage 1: build the project wheel and the wheels of every runtime dependency.
# --------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Only what the wheel needs: metadata and the package itself (no tests, no deploy files).
COPY pyproject.toml setup.cfg README.md ./
COPY app ./app

# The pip cache lives in a BuildKit cache mount, never in a layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels '.[postgres,redis]'

# --------------------------------------------------------------------------------------
# Stage 2: the runtime. No compiler, no source tree, no tests, no wheels left behind.
# --------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG APP_UID=10001
ARG APP_GID=10001

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000

# An unprivileged system user with a fixed id (so volume permissions are predictable).
RUN groupadd --system --gid "${APP_GID}" app \
    && useradd --system --uid "${APP_UID}" --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app \
    && mkdir -p /app \
    && chown app:app /app

# Install from the wheels only (no index): the wheels are bind-mounted from the build
# stage, so they never become a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels \
        'customer-order-service[postgres,redis]' \
    && python -c "import app, gunicorn, psycopg, redis"

WORKDIR /app
COPY --chown=root:root --chmod=0444 deploy/gunicorn.conf.py /app/gunicorn.conf.py

USER app:app

EXPOSE 8000

# /healthz answers while the process is up; readiness (/readyz, database) is checked by
# the deployment, not here, so a database outage does not make Docker restart the web.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

# Exec form: gunicorn is PID 1 and receives SIGTERM directly (graceful shutdown).
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py", "app:create_app()"]
