# persona-pipeline: `make run` brings the whole system up, `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PP := $(VENV)/bin/persona-pipeline

.PHONY: install services run stop test test-unit lint bench demo clean image image-test lock

install:
	@bash scripts/install.sh

services: install
	@$(PP) services start

run: services
	@$(PP) migrate
	@bash scripts/dev-env.sh
	@echo ""
	@echo "  web      http://127.0.0.1:$${PP_WEB_PORT:-8000}   (health: /healthz)"
	@echo "  flower   http://127.0.0.1:$${PP_FLOWER_PORT:-5555}"
	@echo "  Ctrl-C stops the app processes; 'make stop' also stops Cassandra and Redis."
	@echo ""
	@$(VENV)/bin/honcho start -f Procfile -e .local/dev.env

stop:
	@-[ -f .local/demo/honcho.pid ] && $(PY) -m scripts.demo --stop || true
	@-pkill -f "honcho start -f Procfile" 2>/dev/null || true
	@-[ -x $(PP) ] && $(PP) services stop || true

test: services
	@$(PY) -m pytest -p no:cacheprovider tests

# The container image without Docker (buildah), and every compose role run from it (docs/deploy-aks.md).
image:
	@bash scripts/image/build.sh

image-test: services
	@PP_IMAGE_TEST=1 $(PY) -m pytest -p no:cacheprovider tests/image

# Hashed lock files from pyproject.toml (requirements/*.txt); UPGRADE=1 takes the newest allowed versions.
lock:
	@bash scripts/image/lock.sh

test-unit: install
	@$(PY) -m pytest -p no:cacheprovider tests/unit

lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

bench: services
	@$(PY) -m benchmarks.run

demo: services
	@$(PP) migrate
	@$(PY) -m scripts.demo

clean: stop
	rm -rf .local
