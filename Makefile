# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install run test lint serve bench bench-quick image image-test

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

# The container image (README "Run with containers"), built offline: the runtime dependencies
# (pyproject's [project].dependencies, pinned by requirements.lock) as wheels here first, then
# a build that installs them with --no-index. Podman, or Docker where Podman is missing.
IMAGE ?= whatchanged:latest
BASE_IMAGE ?= debian:bookworm-slim
ENGINE ?= $(shell command -v podman >/dev/null && echo podman || echo docker)
# Podman's settings for machines like CI's (no systemd, cgroup v1, runc): a file of the
# project's, the machine's own configuration untouched. `PODMAN_CONF=` uses the machine's.
PODMAN_CONF ?= $(CURDIR)/container/containers.conf
IMAGE_BUILD := build/image
# Podman keeps HEALTHCHECK only in Docker's image format.
ENGINE_BUILD_FLAGS := $(if $(filter %podman,$(ENGINE)),--format docker)

image: export CONTAINERS_CONF := $(PODMAN_CONF)
image: install
	@mkdir -p $(IMAGE_BUILD)
	python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > $(IMAGE_BUILD)/requirements.txt
	@# Pins the lock holds for Debian's Python 3.11.2 only (redis wants async-timeout below
	@# 3.11.3): fetched whatever this machine's Python is.
	sed -n 's/ *; *python_full_version.*//p' requirements.lock >> $(IMAGE_BUILD)/requirements.txt
	python -m pip wheel --quiet --disable-pip-version-check -c requirements.lock \
	  -r $(IMAGE_BUILD)/requirements.txt -w $(IMAGE_BUILD)/wheels
	ENGINE=$(ENGINE) container/base-image.sh $(BASE_IMAGE)
	$(ENGINE) build $(ENGINE_BUILD_FLAGS) --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  -f Containerfile -t $(IMAGE) .
	@echo "$(IMAGE): $$($(ENGINE) image inspect --format '{{.Size}}' $(IMAGE) | awk '{printf "%.1f MB", $$1 / 1e6}')"

# The image for real, with Podman, against this machine's PostgreSQL and Redis (CI runs it).
image-test: export CONTAINERS_CONF := $(PODMAN_CONF)
image-test: image
	IMAGE=$(IMAGE) container/image-test.sh
