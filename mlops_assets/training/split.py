"""Training windows and the event-time split into train and holdout (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd


@dataclass(frozen=True)
class Window:
    """`train_days` then `holdout_days` consecutive days ending on `end` (inclusive)."""

    end: date
    train_days: int
    holdout_days: int

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.train_days + self.holdout_days - 1)

    @property
    def holdout_start(self) -> date:
        return self.end - timedelta(days=self.holdout_days - 1)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.train_days + self.holdout_days)]

    def partition_keys(self) -> list[str]:
        return [d.isoformat() for d in self.days()]


def split_by_event_time(frame: pd.DataFrame, event_time_column: str, holdout_start: date) -> pd.Series:
    """'train' for rows strictly before `holdout_start` (midnight), 'holdout' from it on: no future rows in train.

    Examples
    --------
    >>> f = pd.DataFrame({"t": pd.to_datetime(["2026-01-01 23:59", "2026-01-02 00:00"])})
    >>> split_by_event_time(f, "t", date(2026, 1, 2)).tolist()
    ['train', 'holdout']
    """
    boundary = pd.Timestamp(holdout_start)
    return pd.Series("holdout", index=frame.index, name="split").where(frame[event_time_column] >= boundary, "train")
