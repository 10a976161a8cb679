"""The two classes of a classification target: labels as the feed spells them <-> 0/1 codes (positive class = 1).

Models are fitted on the codes, so ``predict_proba[:, 1]`` is the probability of the positive class and the logged
model's pyfunc predicts codes. Metrics, the evaluation report, the prediction and feedback logs (their float64
``prediction`` and ``label`` columns) and the performance monitor work on codes; ``/predict`` answers and
``/feedback`` takes the labels as the feed spells them ("yes"/"no", true/false, 0/1), and labelled traffic turns
logged codes back into labels, so its rows look like the warehouse's. The classes come from the spec
(:func:`mlops_assets.spec.binary_classes`). Pure: no Dagster, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.spec import ProjectSpec, binary_classes


class LabelError(ValueError):
    """Values that are not one of the target's two classes."""


def _kind(value: object) -> str:
    """The JSON kind of a label: a bool is not a number, a number not a string."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    return "str" if isinstance(value, str) else type(value).__name__


@dataclass(frozen=True)
class BinaryLabels:
    """A target's negative and positive class (code 0 and 1).

    Examples
    --------
    >>> labels = BinaryLabels("subscribed", negative="no", positive="yes")
    >>> labels.encode(pd.Series(["yes", "no", "yes"])).tolist()
    [1, 0, 1]
    >>> labels.decode([0.0, 1.0]).tolist()
    ['no', 'yes']
    >>> labels.parse("yes"), labels.allowed
    (1, '["no", "yes"]')
    """

    column: str
    negative: object
    positive: object

    @property
    def classes(self) -> tuple:
        return self.negative, self.positive

    @property
    def allowed(self) -> str:
        """The two classes as JSON (for messages a client reads)."""
        return json.dumps([self.negative, self.positive])

    def encode(self, values) -> np.ndarray:
        """0/1 (int64) per value, 1 for the positive class; a value that is neither class is a `LabelError`."""
        s = pd.Series(values, copy=False).astype(object)
        pos = (s == self.positive).to_numpy(dtype=bool)
        neg = (s == self.negative).to_numpy(dtype=bool)
        bad = ~(pos | neg)
        if bad.any():
            found = list(dict.fromkeys(s[bad].tolist()))
            raise LabelError(f"target '{self.column}' has {int(bad.sum())} value(s) that are neither of its classes "
                             f"{list(self.classes)}: {found[:10]}")
        return pos.astype("int64")

    def decode(self, codes) -> np.ndarray:
        """The label of each 0/1 code (ints or the logs' floats), as the feed spells it."""
        return np.where(np.asarray(codes) == 1, self.positive, self.negative)

    def parse(self, value: object) -> int:
        """The code of one label a client sent (JSON): of the target's kind (no 1 for true) and one of its classes."""
        if _kind(value) == _kind(self.positive):
            if value == self.positive:
                return 1
            if value == self.negative:
                return 0
        raise LabelError(f"must be one of {self.allowed} (the classes of target '{self.column}'), "
                         f"got {json.dumps(value) if _kind(value) in ('bool', 'number', 'str') else repr(value)}")


def binary_labels(spec: ProjectSpec) -> BinaryLabels | None:
    """The classes of a classification project's target; None for regression."""
    if spec.target.task != "classification":
        return None
    negative, positive = binary_classes(spec.target, spec.schema_.columns[spec.target.column])
    return BinaryLabels(spec.target.column, negative, positive)


def encode_target(spec: ProjectSpec, values):
    """What models are fitted and scored on: 0/1 codes for classification, the values for regression."""
    labels = binary_labels(spec)
    return values if labels is None else labels.encode(values)
