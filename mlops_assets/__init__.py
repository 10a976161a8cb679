"""mlops-assets: an ML platform built on Dagster software-defined assets."""
