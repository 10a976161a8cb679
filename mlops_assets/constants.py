"""Stage names, tag keys, key names and defaults shared across the platform; no logic."""

# Stages of a model's life. Each project's assets are one asset group named after the project; the stage is the
# asset tag `stage` (e.g. `group:churn and tag:stage=training` in the UI's selection box), and the ingest chain
# (raw -> validated -> features, dbt staging models included) also carries `chain: ingest`, so one project's
# chain is `group:churn and tag:chain=ingest`.
INGESTION = "ingestion"
VALIDATION = "validation"
FEATURES = "features"
TRAINING = "training"
EVALUATION = "evaluation"
PROMOTION = "promotion"
DEPLOYMENT = "deployment"
MONITORING = "monitoring"
INGEST_STAGES = (INGESTION, VALIDATION, FEATURES)
PROJECT_TAG = "project"
STAGE_TAG = "stage"
CHAIN_TAG = "chain"
INGEST_CHAIN = "ingest"


def asset_tags(project: str, stage: str) -> dict[str, str]:
    """The tags every asset of `project` carries: its project, its stage and, on the ingest chain, `chain: ingest`."""
    return {PROJECT_TAG: project, STAGE_TAG: stage, **({CHAIN_TAG: INGEST_CHAIN} if stage in INGEST_STAGES else {})}

# Per-project asset names (the key is [project, name]).
RAW_DATA = "raw_data"
VALIDATED_DATA = "validated_data"
FEATURES_ASSET = "features"
TRAINING_SET = "training_set"
CANDIDATE_MODEL = "candidate_model"
EVALUATION_REPORT = "evaluation_report"
CHAMPION = "champion"
ENDPOINT = "endpoint"
PREDICTION_LOG = "prediction_log"
FEEDBACK = "feedback"
LABELED_TRAFFIC = "labeled_traffic"
REFERENCE_PROFILE = "reference_profile"
DRIFT_REPORT = "drift_report"
PERFORMANCE_REPORT = "performance_report"

# Environment variables and their embedded defaults.
DATA_DIR_ENV = "MLOPS_DATA_DIR"
PROJECTS_DIR_ENV = "MLOPS_PROJECTS_DIR"
DEFAULT_DATA_DIR = ".mlops_data"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
ALERT_WEBHOOK_ENV = "MLOPS_ALERT_WEBHOOK_URL"
# The local model servers' first port: a project without `deployment.port` gets base + its slot (8081, 8082, ...).
SERVING_BASE_PORT_ENV = "MLOPS_SERVING_BASE_PORT"
DEFAULT_SERVING_BASE_PORT = 8081
# Step executor of a deployment (mlops_assets/executors.py): in_process (default), multiprocess or celery.
EXECUTOR_ENV = "MLOPS_EXECUTOR"
CELERY_BROKER_ENV = "MLOPS_CELERY_BROKER"
CELERY_BACKEND_ENV = "MLOPS_CELERY_BACKEND"
CELERY_QUEUE_ENV = "MLOPS_CELERY_QUEUE"

# Run tag of every run that trains a project's model (value: the project). The production instance
# (deploy/dagster.production.yaml) limits runs per unique value of this tag to one: one training per project.
TRAINING_RUN_TAG = "mlops/training"
MLFLOW_UI_URL_ENV = "MLOPS_MLFLOW_UI_URL"

# MLflow model-version tag: the fingerprint of the training set a model was fitted on (written by training,
# read by deployment, monitoring and the model server's /version as its data version).
TRAINING_SET_VERSION_TAG = "training_set_version"
# MLflow run/model-version tag of a classifier: its classes [code 0, code 1] as JSON, as the feed spells them.
LABEL_CLASSES_TAG = "label_classes"
