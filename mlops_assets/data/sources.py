"""Reading a day's raw batch from a landing directory, and writing sample landing files."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from mlops_assets.spec import LandingSource


class LandingFileError(RuntimeError):
    """A day's landing file is missing or cannot be parsed."""


def landing_file(source: LandingSource, directory: Path, day: date) -> Path:
    """The path where the batch for `day` is expected."""
    return directory / source.filename_template.format(date=day)


def read_landing_file(source: LandingSource, directory: Path, day: date) -> pd.DataFrame:
    """Read the batch for `day`; a missing or unreadable file is a `LandingFileError` that says what to do."""
    path = landing_file(source, directory, day)
    if not path.exists():
        raise LandingFileError(
            f"No landing file for {day.isoformat()}: expected {path}. Drop the day's file there "
            f"(template '{source.filename_template}') and re-materialize the partition."
        )
    try:
        if source.format == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, low_memory=False)
    except Exception as err:  # any parser error: name the file and the cause
        raise LandingFileError(
            f"Cannot read landing file {path} as {source.format}: {type(err).__name__}: {err}. "
            "Replace the file with a valid one and re-materialize the partition."
        ) from err


def write_landing_file(source: LandingSource, directory: Path, day: date, frame: pd.DataFrame) -> Path:
    """Write `frame` as the landing file for `day` (used for samples and tests)."""
    path = landing_file(source, directory, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    if source.format == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def days(start: date, count: int) -> list[date]:
    """`count` consecutive days from `start`."""
    return [start + timedelta(days=i) for i in range(count)]
