# mlops-assets: `make demo` and `make test` work on a fresh clone (they create .venv and install into it).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export MLOPS_DATA_DIR ?= $(CURDIR)/.mlops_data
export DAGSTER_HOME ?= $(MLOPS_DATA_DIR)/dagster_home
export MLFLOW_TRACKING_URI ?= sqlite:///$(MLOPS_DATA_DIR)/mlflow/mlflow.db
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
# Alerts (drift, failed checks and runs, freshness) are POSTed here as JSON; empty: they go to the Dagster log.
export MLOPS_ALERT_WEBHOOK_URL ?=

# ---- production (README "Running in production"): each service in its own terminal, on this machine's
# PostgreSQL and RabbitMQ; every setting below can be overridden from the environment.
PG_SERVER ?= postgresql+psycopg2://postgres@127.0.0.1:5432
export MLOPS_PG_URL ?= $(PG_SERVER)/dagster
MLFLOW_BACKEND_STORE_URI ?= $(PG_SERVER)/mlflow
MLFLOW_ARTIFACTS ?= $(MLOPS_DATA_DIR)/mlflow-artifacts
MLFLOW_SERVER_PORT ?= 5000
PROD_HOME ?= $(MLOPS_DATA_DIR)/dagster_prod_home
PROD_TRACKING_URI ?= http://127.0.0.1:$(MLFLOW_SERVER_PORT)
# Not exported to every target: `dagster code-server start` reads these as its --host/--port, which breaks the code
# servers `dagster dev` starts on sockets (`make dev`, the browser tests). Only the production targets get them.
DAGSTER_CODE_SERVER_HOST ?= 127.0.0.1
DAGSTER_CODE_SERVER_PORT ?= 4000
# The step executor of the code location and the workers' broker (mlops_assets/executors.py).
export MLOPS_EXECUTOR ?= in_process
export MLOPS_CELERY_BROKER ?= pyamqp://guest:guest@127.0.0.1:5672//
export MLOPS_CELERY_BACKEND ?= rpc://
export MLOPS_CELERY_QUEUE ?= dagster

.PHONY: install home services browser demo test test-each-alone dev validate landing bench mlflow-ui stop clean \
	prod-home code-server daemon webserver worker mlflow-server compose-schema

$(BIN)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

# The dbt manifest is prepared offline at install time (dbt-core < 1.12 parses without network).
dbt_project/target/manifest.json: $(BIN)/.installed $(shell find dbt_project/models dbt_project/tests dbt_project/macros -type f) dbt_project/dbt_project.yml
	$(BIN)/python -c "from mlops_assets.resources.dbt import prepare_manifest; prepare_manifest()"

install: $(BIN)/.installed dbt_project/target/manifest.json

home:
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: install home
	$(BIN)/mlops-assets demo

# The production tests need the local PostgreSQL (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672, the Celery
# broker); Redis (127.0.0.1:6379) is the alternative broker. Each is (re)started only when it does not answer.
services:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		echo "starting PostgreSQL"; pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
		for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi
	@if command -v rabbitmq-server >/dev/null && ! $(PORT_OPEN) 5672; then \
		echo "starting RabbitMQ"; rabbitmq-server -detached; \
		for i in $$(seq 1 60); do $(PORT_OPEN) 5672 && break; sleep 1; done; \
	fi
	@if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then \
		echo "starting Redis"; mkdir -p /var/lib/redis /var/log/redis; \
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log; \
	fi

PORT_OPEN = python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2)" 2>/dev/null

# The browser tests (mlops_assets_tests/browser/) drive Debian's Chromium: install it when missing; fail if it cannot be.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	@test -x /usr/bin/chromium || { echo "Chromium could not be installed: the browser tests need /usr/bin/chromium" >&2; exit 1; }

# The Compose specification's JSON schema, to validate deploy/docker-compose.yaml where `docker compose` (the
# plugin) is missing, as here: taken from Debian's docker-compose package (downloaded, not installed).
COMPOSE_SCHEMA := .cache/compose/compose_spec.json
compose-schema:
	@if ! docker compose version >/dev/null 2>&1 && [ ! -s $(COMPOSE_SCHEMA) ]; then \
		echo "fetching the Compose spec schema (Debian package docker-compose)"; \
		rm -rf .cache/compose/deb && mkdir -p .cache/compose/deb; \
		(cd .cache/compose/deb && (apt-get download docker-compose 2>/dev/null || (apt-get update -qq && apt-get download docker-compose))) \
		&& dpkg-deb --fsys-tarfile .cache/compose/deb/docker-compose_*.deb \
			| tar -xO ./usr/lib/python3/dist-packages/compose/config/compose_spec.json > $(COMPOSE_SCHEMA).tmp \
		&& mv $(COMPOSE_SCHEMA).tmp $(COMPOSE_SCHEMA); rm -rf .cache/compose/deb; \
	fi

test: install services browser compose-schema
	$(BIN)/python -m pytest

# Every test in its own pytest process (finds a test that passes only after another); not part of `make test`.
test-each-alone: install services browser compose-schema
	$(BIN)/python -m mlops_assets_tests.each_alone --jobs 2

# dagster dev (webserver + daemon) on :3000 and the MLflow UI on :5000, which the assets' run links point at.
dev: install home
	mkdir -p $(MLOPS_DATA_DIR)/mlflow
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000 & mlflow_ui=$$!; \
	trap 'kill $$mlflow_ui' EXIT INT TERM; \
	MLOPS_MLFLOW_UI_URL=http://127.0.0.1:5000 $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

mlflow-ui: install
	mkdir -p $(MLOPS_DATA_DIR)/mlflow
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

validate: install home
	$(BIN)/mlops-assets check
	$(BIN)/dagster definitions validate -w workspace.yaml

landing: install
	$(BIN)/mlops-assets landing

bench: install
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/loop.py

stop: install
	$(BIN)/mlops-assets stop

clean: stop
	rm -rf $(MLOPS_DATA_DIR) dbt_project/target dbt_project/logs

# ---- production services (README "Running in production"): PostgreSQL storage, queued runs, gRPC code location.
# DAGSTER_HOME points at $(PROD_HOME), holding deploy/dagster.production.yaml; the databases are created if missing.
prod-home: install
	mkdir -p $(PROD_HOME)
	cp deploy/dagster.production.yaml $(PROD_HOME)/dagster.yaml
	$(BIN)/python -m mlops_assets.pgdb $(MLOPS_PG_URL)

code-server daemon webserver worker: export DAGSTER_HOME := $(PROD_HOME)
code-server daemon webserver worker: export DAGSTER_CODE_SERVER_HOST := $(DAGSTER_CODE_SERVER_HOST)
code-server daemon webserver worker: export DAGSTER_CODE_SERVER_PORT := $(DAGSTER_CODE_SERVER_PORT)
code-server daemon webserver worker: export MLFLOW_TRACKING_URI := $(PROD_TRACKING_URI)

# The code location: the platform's definitions served over gRPC (deploy/workspace.yaml points here).
code-server: prod-home
	$(BIN)/dagster code-server start -m mlops_assets.definitions -h $(DAGSTER_CODE_SERVER_HOST) -p $(DAGSTER_CODE_SERVER_PORT)

# The daemon: dequeues runs within the limits of dagster.production.yaml, schedules, sensors, run monitoring, retries.
daemon: prod-home
	$(BIN)/dagster-daemon run -w deploy/workspace.yaml

webserver: prod-home
	$(BIN)/dagster-webserver -w deploy/workspace.yaml -h 127.0.0.1 -p 3000

# A Celery worker running steps of runs launched with MLOPS_EXECUTOR=celery (start the code-server likewise).
# dagster-celery starts `celery` from the PATH: the venv's.
worker: export PATH := $(CURDIR)/$(BIN):$(PATH)
worker: prod-home
	$(BIN)/dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -q $(MLOPS_CELERY_QUEUE) -- --concurrency 2

# The MLflow tracking server: runs and the registry in PostgreSQL, artifacts under $(MLFLOW_ARTIFACTS), served
# through the server (clients need no access to the directory). Point the platform at it: MLFLOW_TRACKING_URI.
mlflow-server: install
	mkdir -p $(MLFLOW_ARTIFACTS)
	$(BIN)/python -m mlops_assets.pgdb $(MLFLOW_BACKEND_STORE_URI)
	$(BIN)/mlflow server --backend-store-uri $(MLFLOW_BACKEND_STORE_URI) --serve-artifacts \
		--artifacts-destination $(MLFLOW_ARTIFACTS) --host 127.0.0.1 --port $(MLFLOW_SERVER_PORT) --workers 2
