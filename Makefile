# The two commands a newcomer needs: `make run` and `make test`. Both build the virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint lint-deploy install clean bench bench-quick

$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
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
$(VENV)/.bench-installed: $(INSTALLED) setup.cfg
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench.run

bench-quick: $(VENV)/.bench-installed
	$(BIN)/python -m bench.run --quick

lint-deploy:
	bash deploy/check.sh

clean:
	rm -rf $(VENV) .venv-deploy deploy/.tools .pytest_cache .ruff_cache
