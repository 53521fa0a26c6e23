# syntax=docker/dockerfile:1.7
#
# Customer order service image: gunicorn serving `app:create_app()`.
# The same image runs the SMS worker (`flask --app app sms-worker`) and the one-shot
# migration job (`flask --app app migrate`); deploy/compose.yaml wires them.
#
# Base image: both stages use the same exact Python patch release on Debian 12 (bookworm).
# To pin the digest too, resolve it where a registry is reachable and append it to both
# FROM lines, e.g.
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm --format '{{json .Manifest.Digest}}'
#   FROM python:3.11.14-slim-bookworm@sha256:<digest> AS build
# and let Dependabot/Renovate ("docker" ecosystem) keep tag and digest current.

# --------------------------------------------------------------------------------------
# Stage 1: build the project wheel and the wheels of every runtime dependency.
# --------------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm AS build

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
FROM python:3.11.14-slim-bookworm AS runtime

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

# Install exactly the wheels the build stage produced (the project and every runtime
# dependency, extras included) with no index: versions were resolved once, in the build
# stage. The wheels are bind-mounted, so they never become a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl \
    && python -c "import app, gunicorn, psycopg, redis"

WORKDIR /app
COPY --chown=root:root --chmod=0444 deploy/gunicorn.conf.py /app/gunicorn.conf.py

USER ${APP_UID}:${APP_GID}

EXPOSE 8000

# Liveness only: /healthz answers while the process is up (slim images have no curl, so
# Python's urllib asks). Readiness, /readyz with the database, is what deploys wait for;
# a database outage must not mark every web container unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

# Exec form: gunicorn is PID 1 and receives SIGTERM directly (graceful shutdown).
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py", "app:create_app()"]
