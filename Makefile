# Two commands for a newcomer: `make run` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
COORDINATOR_DATABASE_URL ?= sqlite+aiosqlite:///coordinator.db
export COORDINATOR_DATABASE_URL
VENDOR := static/vendor
# Pango and a font for the PDF minutes; Chromium for the browser tests.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# The PostgreSQL pass runs the shipped nginx configuration and the pg_dump backups instead.
TEST_PACKAGES := $(PDF_PACKAGES) $(if $(COORDINATOR_TEST_DATABASE_URL),nginx-light postgresql-client,chromium)

.PHONY: setup run test test-packages test-unit test-browser assets bench-gate bench-fanout bench-load screenshots clean

# The education and advocacy agencies are packages of their own, installed as a third-party agency would be.
$(BIN)/.installed: pyproject.toml plugins/education/pyproject.toml plugins/advocacy/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet -e plugins/education
	$(BIN)/pip install --quiet -e plugins/advocacy
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR)/.installed: node_modules/.installed
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-ws/dist/ws.js \
	   node_modules/@picocss/pico/css/pico.min.css node_modules/axe-core/axe.min.js $(VENDOR)/
	touch $@

assets: $(VENDOR)/.installed

# Needs no root: without the PDF libraries the server starts, and only the PDF minutes say what to install.
setup: $(BIN)/.installed assets
	@bash scripts/ensure-debian-packages --optional "the PDF minutes" $(PDF_PACKAGES)

# Migrates, optionally loads the demo (make run DEMO=1), then serves.
run: setup
	$(BIN)/coordinator migrate
	@if [ -n "$(DEMO)" ]; then $(BIN)/coordinator demo; fi
	$(BIN)/coordinator serve --host $(HOST) --port $(PORT)

# The whole suite: unit, web and live tests, then the browser tests in their own run
# (the browser's event loop must not share a run with the async tests). CI runs this target
# once per database (SQLite, then PostgreSQL via COORDINATOR_TEST_DATABASE_URL); the browser
# tests check pages, focus and layout, which do not depend on the database, so they run in the
# SQLite pass only, keeping CI's time down.
test: test-packages setup
	$(BIN)/pytest -q -p no:cacheprovider --ignore=tests/e2e $(PYTEST_ARGS)
	@if [ -z "$$COORDINATOR_TEST_DATABASE_URL" ]; then \
	  $(BIN)/pytest -q -p no:cacheprovider tests/e2e $(PYTEST_ARGS); \
	else echo "Browser tests: run in the SQLite pass only"; fi

# Before anything is installed or run: the suite tests the PDF minutes; the browser tests need
# Chromium in the SQLite pass; the PostgreSQL pass needs nginx and pg_dump.
test-packages:
	@echo "make test needs the Debian packages: $(TEST_PACKAGES)"
	@bash scripts/ensure-debian-packages $(TEST_PACKAGES)

bench-gate: setup
	$(BIN)/python bench/gate.py

bench-fanout: setup
	$(BIN)/python bench/fanout.py

# 50 agency members (locust) on one case with 20 live pages, beside a bare server; see bench/load.py.
bench-load: setup
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/load.py $(LOAD_ARGS)

# The pictures of the live page in docs/ and the README, taken by the browser test.
screenshots: setup
	bash scripts/ensure-debian-packages chromium
	COORDINATOR_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -p no:cacheprovider tests/e2e

clean:
	rm -rf $(VENV) node_modules $(VENDOR)
