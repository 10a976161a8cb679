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

.PHONY: install home services browser demo test dev validate landing bench mlflow-ui stop clean

$(BIN)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

# The dbt manifest is prepared offline at install time (dbt-core < 1.12 parses without network).
dbt_project/target/manifest.json: $(BIN)/.installed $(shell find dbt_project/models dbt_project/tests -type f) dbt_project/dbt_project.yml
	$(BIN)/python -c "from mlops_assets.resources.dbt import prepare_manifest; prepare_manifest()"

install: $(BIN)/.installed dbt_project/target/manifest.json

home:
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: install home
	$(BIN)/mlops-assets demo

# The PostgreSQL test (deploy/dagster.postgres.yaml) needs the local server on 127.0.0.1:5432: (re)start it if down.
services:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		echo "starting PostgreSQL"; pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
		for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi

# The browser tests (mlops_assets_tests/browser/) drive Debian's Chromium: install it when missing; fail if it cannot be.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	@test -x /usr/bin/chromium || { echo "Chromium could not be installed: the browser tests need /usr/bin/chromium" >&2; exit 1; }

test: install services browser
	$(BIN)/python -m pytest

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
