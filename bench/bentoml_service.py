"""The BentoML 1.4 side of bench/serving.py: the same fitted churn pipeline behind an adaptive-batching API.

Runs only in the bench's own venv (``.venv-bench-bentoml``, created by bench/serving.py with BentoML and the
project's scikit-learn/pandas/numpy versions, so the pickled pipeline loads as fitted)::

    BENCH_PIPELINE=/tmp/…/pipeline.pkl BENCH_COLUMNS=a,b,… bentoml serve bentoml_service:ChurnService --port N

``POST /predict {"data": [{feature: value, …}, …]}`` (the model's feature columns, as ``mlflow models serve``
takes them) answers one ``[class, probability of class 1]`` pair per row: one ``predict_proba`` per batch, the
class taken from it as scikit-learn's ``predict`` does (``classes_[argmax]``).

The input is a list of records, made a DataFrame here (what BentoML's own ``pd.DataFrame`` input does with
them): with ``data: pd.DataFrame`` the batching of 1.4.40 fails (``PandasDataFrameContainer.get_batch_size``
returns ``batch.shape``, a tuple, so the dispatcher's optimizer raises ``TypeError`` and every request times out
with 504), while lists are batched by ``DefaultContainer`` (concatenated, split back by length).
"""

from __future__ import annotations

import os
import pickle
import typing as t

import bentoml
import numpy as np
import pandas as pd

MAX_BATCH_SIZE = 2048  # rows, as our server's max_batch_rows
MAX_LATENCY_MS = 1000


@bentoml.service(workers=1, traffic={"timeout": 60})
class ChurnService:
    def __init__(self) -> None:
        # the service is built by `bentoml serve`: where the model is comes from the bench's environment
        with open(os.environ["BENCH_PIPELINE"], "rb") as f:
            self.pipeline = pickle.load(f)
        self.columns = os.environ["BENCH_COLUMNS"].split(",")
        classes = np.asarray(self.pipeline.classes_)
        self.classes = classes
        self.pos = int(np.flatnonzero(classes == 1)[0])

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS)
    def predict(self, data: list[dict[str, t.Any]]) -> list[list[float]]:
        proba = self.pipeline.predict_proba(pd.DataFrame(data, columns=self.columns))
        return np.column_stack([self.classes[proba.argmax(axis=1)].astype("float64"), proba[:, self.pos]]).tolist()
