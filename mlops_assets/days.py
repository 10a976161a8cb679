"""Calendar days in UTC: today, and the recent days a command or the demo covers (standard library only)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def recent_days(days: int, end: date | None = None) -> list[date]:
    """`days` consecutive days ending on `end` (default: yesterday, UTC, the newest day a daily partition covers).

    >>> recent_days(3, date(2026, 3, 1))
    [datetime.date(2026, 2, 27), datetime.date(2026, 2, 28), datetime.date(2026, 3, 1)]
    """
    if days < 1:
        raise ValueError(f"days must be at least 1 (got {days})")
    end = utc_today() - timedelta(days=1) if end is None else end
    return [end - timedelta(days=days - 1 - i) for i in range(days)]
