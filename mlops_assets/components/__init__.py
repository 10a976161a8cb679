"""Dagster Components of the platform (`dg list components` finds them through the package's entry point)."""

from mlops_assets.components.model_project import ModelProject

__all__ = ["ModelProject"]
