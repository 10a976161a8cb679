"""Prometheus metrics of one app, in its own CollectorRegistry (never the process-global one)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SCORE_BUCKETS = tuple(round(x, 2) for x in np.linspace(0.1, 1.0, 10))
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class ServingMetrics:
    """Requests, errors, latency, per-version prediction counts and score distribution."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, score_buckets: tuple[float, ...] = SCORE_BUCKETS):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("mlops_serving_requests", "HTTP requests handled", ["route", "status"], registry=r)
        self.errors = Counter("mlops_serving_errors", "HTTP requests answered with 4xx/5xx", ["route", "status"],
                              registry=r)
        self.latency = Histogram("mlops_serving_request_seconds", "request latency in seconds", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.predictions = Counter("mlops_serving_predictions", "rows scored", ["model_version", "role"], registry=r)
        self.scores = Histogram("mlops_serving_score", "model score per scored row (probability or prediction)",
                                ["model_version", "role"], buckets=score_buckets, registry=r)
        self.batch_rows = Histogram("mlops_serving_batch_rows", "rows per micro-batch", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.ready = Gauge("mlops_serving_ready", "1 when a model is loaded and warmed", registry=r)

    def watch_log(self, stats: Callable[[], dict]) -> None:
        """Export the prediction log's counters (``PredictionLog.stats``), read at scrape time."""
        self.registry.register(_LogCollector(stats))

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        if status >= 400:
            self.errors.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_scores(self, version: str, role: str, scores: np.ndarray) -> None:
        self.predictions.labels(version, role).inc(len(scores))
        hist = self.scores.labels(version, role)
        for s in np.asarray(scores, dtype="float64").tolist():
            hist.observe(s)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LogCollector:
    """``mlops_log_*`` per log kind: rows written to Parquet, quarantined, refused, and not yet compacted."""

    _COUNTERS = (("rows_written", "mlops_log_rows_written", "rows compacted into the day Parquet files"),
                 ("dead_letter_rows", "mlops_log_dead_letter_rows",
                  "rows that could not be written, quarantined to the dead-letter file"),
                 ("dropped_rows", "mlops_log_dropped_rows",
                  "rows refused (503, never acknowledged) because the log was full or unwritable"))

    def __init__(self, stats: Callable[[], dict]):
        self.stats = stats

    def describe(self):
        return []

    def collect(self):
        stats = self.stats()
        for key, name, doc in self._COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["kind"])
            for kind, value in stats[key].items():
                family.add_metric([kind], value)
            yield family
        pending = GaugeMetricFamily("mlops_log_pending_rows", "rows in segment files not yet compacted",
                                    labels=["kind"])
        for kind, value in stats["pending_rows"].items():
            pending.add_metric([kind], value)
        yield pending
