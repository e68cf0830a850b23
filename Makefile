# The two commands: `make run` and `make test`. Everything else is a step they depend on.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export BYOK_VAR_DIR ?= $(CURDIR)/var

.PHONY: run test setup migrate bench clean browser node-sdks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime

migrate: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable

## make run: set up, migrate, seed the demo and start the web server, worker, beat and provider simulator.
run: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python -m byok_project.stack

## make browser: Debian's chromium for the browser tests, installed when run as root; elsewhere they skip (not in CI).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium) || echo "chromium not installed: browser tests will be skipped"; }

## make node-sdks: the pinned Node clients the data-plane tests drive (tests/fixtures/node_sdks, from its lock file);
## without npm their tests skip.
node-sdks:
	@command -v npm >/dev/null && npm ci --prefix tests/fixtures/node_sdks --no-audit --no-fund --ignore-scripts --loglevel=error || echo "npm not installed: the Node SDK tests will be skipped"

## make test: set up, lint (ruff: any finding fails) and run the whole suite (BYOK_REQUIRE_SERVICES=1 turns missing
## services into failures) in TEST_WORKERS processes (pytest-xdist; tests/parallel.py gives each its own services).
## Half the suite's time is spent waiting on servers and subprocesses, so two workers halve it even on two cores.
TEST_WORKERS ?= 2
test: $(VENV)/.dev browser node-sdks
	$(BIN)/ruff check .
	BYOK_VAR_DIR=$(BYOK_VAR_DIR)/test $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(VENV)/.dev
	BYOK_VAR_DIR=$(BYOK_VAR_DIR)/bench $(BIN)/python -m bench

clean:
	rm -rf $(VENV) var staticfiles
