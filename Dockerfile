# syntax=docker/dockerfile:1.7
#
# Customer order service image: gunicorn serving `app:create_app()`.
# The same image runs the SMS worker (`flask --app app sms-worker`) and the one-shot
# migration job (`flask --app app migrate`); deploy/compose.yaml wires them.
#
# Base image: both stages use the same exact Python patch release on Debian 12 (bookworm),
# pinned by the digest of its multi-platform index, so a rebuild gets the same bytes until
# Dependabot (.github/dependabot.yml, "docker") proposes a new tag or digest. The digest of
# a tag: docker buildx imagetools inspect python:3.11.16-slim-bookworm
#
# Python packages come from the lock only (requirements/, made by `make lock`), every file
# checked against its hashes: base.txt for the runtime, build.txt for the build backend.

# --------------------------------------------------------------------------------------
# Stage 1: build the project wheel and the wheels of every runtime dependency.
# --------------------------------------------------------------------------------------
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# The locked wheels of every runtime dependency (wheels only: one built here would match no
# hash of the lock), and the locked build backend. The pip cache lives in a BuildKit cache
# mount, never in a layer.
COPY requirements/base.txt requirements/build.txt ./requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip download --require-hashes --only-binary=:all: --dest /wheels -r requirements/base.txt \
    && pip install --require-hashes -r requirements/build.txt

# The project's wheel, from what it needs (metadata and the package; no tests, no deploy
# files), built by that backend: without build isolation nothing unlocked is fetched.
COPY pyproject.toml setup.cfg README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /dist .

# --------------------------------------------------------------------------------------
# Stage 2: the runtime. No compiler, no source tree, no tests, no wheels left behind.
# --------------------------------------------------------------------------------------
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f AS runtime

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

# Install the lock's wheels (hashes checked again) and then the project's own wheel, from no
# index: nothing is resolved here. `pip check` fails the build when setup.cfg asks for more
# than the lock holds. The wheels are bind-mounted, so they never become a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,from=build,source=/dist,target=/dist \
    --mount=type=bind,from=build,source=/src/requirements/base.txt,target=/tmp/base.txt \
    pip install --no-cache-dir --no-index --find-links=/wheels --require-hashes -r /tmp/base.txt \
    && pip install --no-cache-dir --no-index --no-deps /dist/*.whl \
    && pip check \
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
