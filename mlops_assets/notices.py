"""Dagster's notices about APIs this platform adopts on purpose, kept out of every CLI call's output."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def adopted_dagster_apis() -> Iterator[None]:
    """Silence Dagster's beta/preview notices inside the block: single-run backfill policies (beta) and
    partitioned asset checks (preview) are deliberate choices here, and the notice repeats per asset per load."""
    from dagster import BetaWarning, PreviewWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        warnings.simplefilter("ignore", PreviewWarning)
        yield
