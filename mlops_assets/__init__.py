"""mlops-assets: an ML platform built on Dagster software-defined assets."""

__version__ = "0.1.0"
