"""Group names, key names and defaults shared across the platform; no logic."""

# Asset groups, one per stage of a model's life (shared by every project; keys are prefixed by project).
INGESTION = "ingestion"
VALIDATION = "validation"
FEATURES = "features"
TRAINING = "training"
EVALUATION = "evaluation"
PROMOTION = "promotion"
DEPLOYMENT = "deployment"
MONITORING = "monitoring"

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
# Step executor of a deployment (mlops_assets/executors.py): in_process (default), multiprocess or celery.
EXECUTOR_ENV = "MLOPS_EXECUTOR"
CELERY_BROKER_ENV = "MLOPS_CELERY_BROKER"
CELERY_BACKEND_ENV = "MLOPS_CELERY_BACKEND"
CELERY_QUEUE_ENV = "MLOPS_CELERY_QUEUE"

# Run tag of every run that trains a project's model (value: the project). The production instance
# (deploy/dagster.production.yaml) limits runs per unique value of this tag to one: one training per project.
TRAINING_RUN_TAG = "mlops/training"

# MLflow model-version tag: the fingerprint of the training set a model was fitted on (written by training,
# read by deployment, monitoring and the model server's /version as its data version).
TRAINING_SET_VERSION_TAG = "training_set_version"
# MLflow run/model-version tag of a classifier: its classes [code 0, code 1] as JSON, as the feed spells them.
LABEL_CLASSES_TAG = "label_classes"
