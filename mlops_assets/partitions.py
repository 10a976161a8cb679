"""Partitioning of a project's assets: one partition per day from the spec's start date.

Data partitions (raw → features) end yesterday: a day's batch exists once the day is over. Monitoring partitions
(prediction and feedback logs, labelled traffic, drift and performance reports) include today, the day in
progress, so today's traffic can be judged while it arrives.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import DailyPartitionsDefinition

from mlops_assets.spec import ProjectSpec


def daily_partitions(spec: ProjectSpec) -> DailyPartitionsDefinition:
    """Days from `start_date` to `end_date` (inclusive) or, without one, up to yesterday."""
    end = None if spec.end_date is None else (spec.end_date + timedelta(days=1)).isoformat()
    return DailyPartitionsDefinition(start_date=spec.start_date.isoformat(), end_date=end)


def monitoring_partitions(spec: ProjectSpec) -> DailyPartitionsDefinition:
    """Days from `start_date` to `end_date` (inclusive) or, without one, up to and including today."""
    if spec.end_date is not None:
        return daily_partitions(spec)
    return DailyPartitionsDefinition(start_date=spec.start_date.isoformat(), end_offset=1)
