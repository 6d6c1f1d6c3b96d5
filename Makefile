# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install run test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs only when the dependency lists change.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	python manage.py migrate --noinput
	python manage.py seed_demo
	@echo "Whatchanged on http://127.0.0.1:8000 (Ctrl-C stops the web server, worker and beat)"
	honcho -f Procfile.dev start

lint: install
	ruff check .
	ruff format --check .
	lint-imports

test: lint
	pytest
