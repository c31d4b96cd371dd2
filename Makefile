# Gatescope: `make run` serves the site, `make test` runs every test, `make bench` measures.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: run test bench lint install install-test chromium postgres clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip >/dev/null

# Stamps: install again only when pyproject.toml changes, so `make run` works offline afterwards.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Debian's Chromium for the browser tests; Playwright must never download a browser of its own.
chromium:
	@test -x /usr/bin/chromium || { \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }

# uvicorn answers 503 itself beyond 200 connections and tasks; idle keep-alives close after 5 s.
UVICORN_FLAGS ?=
run: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) \
		--limit-concurrency 200 --timeout-keep-alive 5 $(UVICORN_FLAGS)

# PostgreSQL's server from Debian: the storage tests start a throwaway cluster of their own.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; }

test: install-test chromium postgres node_modules/.installed
	$(BIN)/pytest

# Node packages at the exact versions package-lock.json pins: Biome lints the page's JavaScript
# (biome.json); axe-core audits the page's accessibility in tests/browser/test_accessibility.py.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

lint: install-test node_modules/.installed
	$(BIN)/ruff format --check app tests benchmarks
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/mypy app
	node_modules/.bin/biome lint

bench: install-test chromium
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk; }
	$(BIN)/python -m benchmarks.forward
	$(BIN)/python -m benchmarks.serve
	$(BIN)/python -m benchmarks.redraw
	$(BIN)/python -m benchmarks.transfer
	$(BIN)/python -m benchmarks.pagedraw
	$(BIN)/python -m benchmarks.queue
	$(BIN)/python -m benchmarks.analyze
	$(BIN)/python -m benchmarks.train
	$(BIN)/python -m benchmarks.parity

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache node_modules
