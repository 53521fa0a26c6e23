# The two commands a newcomer needs: `make run` and `make test`. Both build the virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint lint-deploy install lock clean bench bench-quick

# Exactly the versions and files of the lock (every hash checked), then the project itself:
# pip refuses an editable install under --require-hashes, and the lock's setuptools builds it.
$(INSTALLED): requirements/base.txt requirements/dev.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check || (echo "setup.cfg and requirements/ disagree: make lock" >&2; exit 1)
	touch $(INSTALLED)

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/python scripts/run.py

test: $(INSTALLED)
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check app tests scripts bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# Benchmarks (bench/run.py): PostgreSQL at 127.0.0.1:5432 and wrk (Debian package) needed.
$(VENV)/.bench-installed: $(INSTALLED) requirements/bench.txt
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/bench.txt
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench.run

bench-quick: $(VENV)/.bench-installed
	$(BIN)/python -m bench.run --quick

lint-deploy:
	bash deploy/check.sh

# The lock, from setup.cfg: base.txt is the service (what the image installs), dev.txt adds
# the dev extras (make run, make test, CI), bench.txt the bench extra, build.txt the build
# backend. Each later file keeps the earlier one's versions. Pins that still satisfy
# setup.cfg stay; `make lock LOCK_ARGS=--upgrade` takes the newest releases. Resolved against
# PyPI alone, whatever pip configuration the machine has, so the hashes are PyPI's.
LOCK_ARGS ?=
PIP_COMPILE = env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL \
	PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	$(LOCK_ARGS)

lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(PIP_COMPILE) --extra postgres --extra redis -o requirements/base.txt setup.cfg
	$(PIP_COMPILE) --extra dev --extra postgres --extra redis -c requirements/base.txt \
		-o requirements/dev.txt setup.cfg
	$(PIP_COMPILE) --extra dev --extra postgres --extra redis --extra bench \
		-c requirements/dev.txt -o requirements/bench.txt setup.cfg
	$(PIP_COMPILE) --build-deps-for wheel --only-build-deps -c requirements/dev.txt \
		-o requirements/build.txt pyproject.toml

clean:
	rm -rf $(VENV) .venv-deploy deploy/.tools .pytest_cache .ruff_cache
