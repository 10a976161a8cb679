# Images of mlops-assets, built from one context:
#   docker build -t mlops-assets:dev .                      the Dagster code location (default, last stage)
#   docker build --target serving -t mlops-serving:dev .    the model server (lean: requirements-serving.txt only)
# Both run as the non-root user `mlops` (uid 10001) and keep all state under /data (MLOPS_DATA_DIR).
# Mount a volume there; a named volume starts as a copy of the image's /data, owned by mlops.

# ---- builder: one venv at /opt/venv, resolved only from constraints.txt (the venv's pip freeze) ----
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first, in their own layer: setup.py finds no package yet, so this installs only
# install_requires; code changes then rebuild just the small layer below.
COPY setup.py README.md constraints.txt ./
RUN pip install --no-cache-dir -c constraints.txt .
COPY mlops_assets/ mlops_assets/
RUN pip install --no-cache-dir --no-deps --force-reinstall -c constraints.txt .

# ---- runtime: the shared slim base of both images ----
FROM python:3.11-slim AS runtime
RUN groupadd --gid 10001 mlops \
    && useradd --uid 10001 --gid mlops --no-log-init --no-create-home --home-dir /app --shell /usr/sbin/nologin mlops \
    && mkdir -p /data/dagster_home /data/predictions \
    && chown -R mlops:mlops /data
COPY --from=builder /opt/venv /opt/venv
# PYTHONPATH: the package's paths (REPO_ROOT, DBT_PROJECT_DIR) are derived from __file__, so it must be
# imported from /app beside projects/ and dbt_project/, not from the copy installed in site-packages.
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    MLOPS_DATA_DIR=/data \
    DAGSTER_HOME=/data/dagster_home \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false
WORKDIR /app
# Code and specs stay root-owned (read-only to the app); dbt writes target/ and logs/ at run time.
COPY setup.py README.md constraints.txt workspace.yaml ./
COPY mlops_assets/ mlops_assets/
COPY projects/ projects/
COPY --chown=mlops:mlops dbt_project/ dbt_project/
# The instance config goes where Dagster reads it (as `make home` does); a bind mount on /data hides it.
COPY --chown=mlops:mlops deploy/dagster.yaml /data/dagster_home/dagster.yaml
# Numeric, so that runAsNonRoot-style checks can verify it without reading /etc/passwd.
USER 10001:10001
# The dbt manifest is prepared now, offline (dbt-core <1.12 downloads nothing), so containers start fast;
# then the platform's own staleness check must agree that it is fresh.
RUN dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet \
    && python -c "from mlops_assets.resources.dbt import manifest_is_stale; assert not manifest_is_stale(), 'dbt manifest is stale'"

# ---- serving-builder: the model server's own venv, from requirements-serving.txt only (no Dagster, no dbt) ----
FROM python:3.11-slim AS serving-builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements-serving.txt constraints.txt ./
RUN pip install --no-cache-dir -c constraints.txt -r requirements-serving.txt

# ---- serving: the model server (python -m mlops_assets.serving); pass --project/--model-uri as args ----
# MLFLOW_TRACKING_URI: an MLflow server (http://...) or a sqlite/PostgreSQL store (SQLAlchemy is installed).
FROM python:3.11-slim AS serving
RUN groupadd --gid 10001 mlops \
    && useradd --uid 10001 --gid mlops --no-log-init --no-create-home --home-dir /app --shell /usr/sbin/nologin mlops \
    && mkdir -p /data/predictions \
    && chown -R mlops:mlops /data
COPY --from=serving-builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    MLOPS_DATA_DIR=/data
WORKDIR /app
COPY mlops_assets/ mlops_assets/
COPY projects/ projects/
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]
ENTRYPOINT ["python", "-m", "mlops_assets.serving", "--host", "0.0.0.0", "--port", "8080", "--log-dir", "/data/predictions"]
CMD ["--project", "projects/churn.yaml"]

# ---- code-location: the Dagster gRPC code server (default target) ----
FROM runtime AS code-location
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
ENTRYPOINT ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "mlops_assets.definitions"]
