-- docker-compose's postgres service: MLflow's database beside Dagster's (POSTGRES_DB), on the first start only.
CREATE DATABASE mlflow;
