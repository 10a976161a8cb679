"""Partitioning of a project's assets: one partition per day from the spec's start date.

Data partitions (raw → features) end yesterday: a day's batch exists once the day is over. Monitoring partitions
(prediction and feedback logs, labelled traffic, drift and performance reports) include today, the day in
progress, so today's traffic can be judged while it arrives.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

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


#: The note a monitoring partition of a day not yet over carries: it holds the traffic logged so far.
IN_PROGRESS = "day in progress (data so far)"


def day_status(day: str | date, metadata: dict | None = None, now: datetime | None = None) -> dict:
    """`metadata` plus ``day_complete``: whether the UTC `day` has ended at `now` (default: the current time).

    A day in progress (today's monitoring partition) also gets :data:`IN_PROGRESS` in front of its ``note``.

    Examples
    --------
    >>> day_status("2026-03-04", now=datetime(2026, 3, 5, 2, tzinfo=timezone.utc))
    {'day_complete': True}
    >>> day_status("2026-03-05", {"note": "no feedback"}, now=datetime(2026, 3, 5, 2, tzinfo=timezone.utc))
    {'note': 'day in progress (data so far); no feedback', 'day_complete': False}
    """
    day = date.fromisoformat(day) if isinstance(day, str) else day
    complete = day < (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
    out = {**(metadata or {}), "day_complete": complete}
    if not complete:
        out["note"] = "; ".join([IN_PROGRESS, *([str(out["note"])] if out.get("note") else [])])
    return out
