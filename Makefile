# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install run test lint serve bench bench-quick

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs only when the dependency lists change.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Prometheus figures of the web server and the worker add up in one folder, emptied per start.
METRICS_DIR := $(CURDIR)/var/metrics
run serve: export PROMETHEUS_MULTIPROC_DIR := $(METRICS_DIR)

# `make run PORT=8123` when 8000 is taken. honcho hands PORT to the web server (its own default
# is 5000); the URLs in Settings' setup snippets follow PUBLIC_URL, unless it is set already.
PORT ?= 8000
run serve: export PORT := $(PORT)
run serve: export PUBLIC_URL ?= http://127.0.0.1:$(PORT)

run: install
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	python manage.py migrate --noinput
	python manage.py seed_demo
	@echo "Whatchanged on http://127.0.0.1:$(PORT) (Ctrl-C stops the web server, worker and beat)"
	honcho -f Procfile.dev start

lint: install
	ruff check .
	ruff format --check .
	lint-imports

test: lint
	pytest

# The production shape on this machine: gunicorn + Celery worker + beat on PostgreSQL and Redis.
# On localhost: a throwaway secret key per run, plain HTTP, persistent database connections.
serve: export SECRET_KEY ?= $(shell python3 -c "import secrets; print(secrets.token_urlsafe(50))")
serve: export HTTPS ?= false
serve: export CONN_MAX_AGE ?= 60
serve: install
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || \
	  { echo "make serve needs DATABASE_URL=postgres://… and REDIS_URL=redis://…"; exit 2; }
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	DJANGO_SETTINGS_MODULE=config.settings.production python manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=config.settings.production python manage.py collectstatic --noinput -v0
	DJANGO_SETTINGS_MODULE=config.settings.production honcho -f Procfile start

# Benchmarks against the local PostgreSQL and Redis; the table also lands in bench/results/.
bench: install
	python -m bench.run

bench-quick: install
	python -m bench.run --quick
