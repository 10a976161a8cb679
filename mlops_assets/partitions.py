"""Partitioning of a project's data assets: one partition per day from the spec's start date."""

from __future__ import annotations

from datetime import timedelta

from dagster import DailyPartitionsDefinition

from mlops_assets.spec import ProjectSpec


def daily_partitions(spec: ProjectSpec) -> DailyPartitionsDefinition:
    """Days from `start_date` to `end_date` (inclusive) or, without one, up to yesterday."""
    end = None if spec.end_date is None else (spec.end_date + timedelta(days=1)).isoformat()
    return DailyPartitionsDefinition(start_date=spec.start_date.isoformat(), end_date=end)
