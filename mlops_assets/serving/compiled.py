"""Lean numpy versions of fitted models for small batches: the preprocessing (ColumnTransformer of imputers,
scalers, encoders) and the trees of a HistGradientBoosting model.

scikit-learn's per-call overhead (validation, pandas indexing, output wrapping) dominates a small batch:
about 2.5 ms of a 3 ms ``predict_proba`` of one churn row goes to the ColumnTransformer. Serving only
*reads* the fitted state, so for the handful of transformers our pipelines use, the same arithmetic is
done here directly on the columns. Anything not recognised exactly (other transformers, options such as
infrequent categories, ``add_indicator``, pandas output, weights) compiles to ``None`` and the pipeline
runs as it is. At transform time, inputs the fast path does not cover (unknown or missing categories,
non-numeric or non-finite numbers) return ``None`` too, so the pipeline answers — and raises — as always.
:class:`mlops_assets.serving.models.LoadedModel` also checks the result is bit-identical on sample rows
before using it.

The trees: ``HistGradientBoosting*.predict`` calls one Cython routine per tree (one OpenMP region, validation and
a ``functools.partial`` each): about 15 µs a tree, 1.5 ms of the 3 ms a single churn row costs the server with a
100-tree model, whatever the batch size. :class:`TreeWalk` walks every tree at once, one numpy step per tree
level, which costs a few µs per level for a handful of rows but grows with rows × trees, so it takes batches of
up to :data:`TREE_WALK_MAX_ROWS` rows (bench/serving.py: sequential p50 and 8-client req/s); larger batches go
to scikit-learn. Its sums add the leaves in scikit-learn's order (baseline, then tree by tree) and its link is
the model's own loss, so the answers are bit-identical (checked again on load).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: Feature rows: a DataFrame, or its columns as numpy arrays (serving's small batches, no pandas).
Columns = "pd.DataFrame | Mapping[str, np.ndarray]"
#: rows -> float64 matrix (the ColumnTransformer's output), or None to use the pipeline itself.
Transform = Callable[[Columns], "np.ndarray | None"]
#: one transformer step on a float64 block, in place.
_Step = Callable[[np.ndarray], None]


log = logging.getLogger(__name__)

#: Largest batch :class:`TreeWalk` answers; scikit-learn's per-tree loop is faster above it (see the docstring).
TREE_WALK_MAX_ROWS = 32


class _Unsupported(Exception):
    pass


def _numeric(frame: Columns, n: int, names: list[str]) -> np.ndarray | None:
    """The columns as one float64 block (what check_array makes of them), or None if one is not numeric."""
    out = np.empty((n, len(names)), dtype="float64")
    for j, name in enumerate(names):
        col = frame[name]
        if col.dtype.kind not in "biuf":  # object, strings, datetimes: leave them to scikit-learn
            return None
        if isinstance(col.dtype, np.dtype):
            out[:, j] = np.asarray(col)  # bool/int/float -> float64: the cast check_array makes
        else:  # nullable Int64/boolean/Float64: NA -> NaN
            out[:, j] = col.to_numpy(dtype="float64", na_value=np.nan)
    return out


def _imputer_step(imp) -> _Step:
    stats = getattr(imp, "statistics_", None)
    missing = imp.missing_values
    if (imp.add_indicator or stats is None or stats.dtype.kind != "f" or np.isnan(stats).any()
            or not (isinstance(missing, float) and np.isnan(missing))):
        raise _Unsupported(f"SimpleImputer options {imp.get_params()}")

    def step(x: np.ndarray) -> None:
        mask = np.isnan(x)
        if mask.any():
            np.copyto(x, np.broadcast_to(stats, x.shape), where=mask)

    return step


def _scaler_step(sc) -> _Step:
    mean = sc.mean_ if sc.with_mean else None
    scale = sc.scale_ if sc.with_std else None

    def step(x: np.ndarray) -> None:  # the same in-place ops as StandardScaler.transform
        if mean is not None:
            x -= mean
        if scale is not None:
            x /= scale

    return step


def _numeric_block(trans) -> list[_Step] | None:
    """In-place steps for 'passthrough', SimpleImputer, StandardScaler or a Pipeline of them; else raise."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn.preprocessing import FunctionTransformer

    if isinstance(trans, str) and trans == "passthrough":
        return []
    if type(trans) is FunctionTransformer and trans.func is None:  # a fitted 'passthrough' (e.g. the remainder)
        return []
    if type(trans) is SimpleImputer:
        return [_imputer_step(trans)]
    if type(trans) is StandardScaler:
        return [_scaler_step(trans)]
    if type(trans) is Pipeline:
        return [s for _, t in trans.steps for s in _numeric_block(t)]
    raise _Unsupported(type(trans).__name__)


def _lookups(enc) -> list[dict]:
    cats = enc.categories_
    # `infrequent_categories_` is defined only when infrequent categories are enabled (None per feature without any).
    if any(c is not None for c in getattr(enc, "infrequent_categories_", ())) or any(
            c.dtype != object or not all(type(v) is str for v in c.tolist()) for c in cats):
        raise _Unsupported(f"{type(enc).__name__} categories or infrequent categories")
    if np.dtype(enc.dtype) != np.float64:
        raise _Unsupported(f"{type(enc).__name__} dtype {enc.dtype}")
    return [{v: i for i, v in enumerate(c.tolist())} for c in cats]


def _codes(frame: Columns, n: int, names: list[str], lookups: list[dict]) -> list[np.ndarray] | None:
    """Category index per row and column, or None when a value is not a known category (left to sklearn)."""
    out = []
    for name, lookup in zip(names, lookups):
        try:
            out.append(np.fromiter((lookup[v] for v in frame[name].tolist()), dtype=np.intp, count=n))
        except (KeyError, TypeError):  # unknown, missing or unhashable: the encoder decides what happens
            return None
    return out


def _categorical_block(trans):
    """(width, fill(frame, n, names, out) -> bool) for OneHotEncoder/OrdinalEncoder, else raise."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if type(trans) is OneHotEncoder:
        if trans.drop_idx_ is not None or trans.sparse_output:
            raise _Unsupported("OneHotEncoder with drop or sparse output")
        lookups = _lookups(trans)
        widths = [len(c) for c in trans.categories_]
        offsets = np.cumsum([0, *widths[:-1]])

        def fill(frame, n, names, out) -> bool:
            codes = _codes(frame, n, names, lookups)
            if codes is None:
                return False
            rows = np.arange(n)
            for off, code in zip(offsets, codes):
                out[rows, off + code] = 1.0
            return True

        return sum(widths), fill
    if type(trans) is OrdinalEncoder:
        lookups = _lookups(trans)

        def fill(frame, n, names, out) -> bool:
            codes = _codes(frame, n, names, lookups)
            if codes is None:
                return False
            for j, code in enumerate(codes):
                out[:, j] = code
            return True

        return len(lookups), fill
    raise _Unsupported(type(trans).__name__)


def _dense_output(ct) -> bool:
    """True when ``ct.transform`` returns a numpy array (no ``set_output(transform="pandas"/"polars")``).

    scikit-learn has no public getter for an estimator's output container, so this reads the private
    ``sklearn.utils._set_output._get_output_config``; if a release renames it, the fast path turns off with a
    warning in the log (the pipeline then runs as it is)."""
    try:
        from sklearn.utils._set_output import _get_output_config

        return _get_output_config("transform", ct)["dense"] == "default"
    except (ImportError, AttributeError, KeyError, TypeError) as err:
        log.warning("serving fast path off: scikit-learn's private _get_output_config is not usable (%s: %s); "
                    "models answer through their own pipeline", type(err).__name__, err)
        return False


def _input_names(ct, columns) -> list[str]:
    """The input column names one fitted ``ct.transformers_`` entry reads (names, positions, a mask or a slice)."""
    names_in = np.asarray(ct.feature_names_in_, dtype=object)
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, slice):
        if not all(b is None or isinstance(b, int) for b in (columns.start, columns.stop, columns.step)):
            raise _Unsupported("label slice of columns")
        return [str(c) for c in names_in[columns]]
    columns = list(np.asarray(columns).tolist()) if not isinstance(columns, list) else columns
    if all(type(c) is bool for c in columns):
        return [str(c) for c in names_in[np.asarray(columns, dtype=bool)]]
    if all(isinstance(c, str) for c in columns):
        return [str(c) for c in columns]
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in columns):
        return [str(c) for c in names_in[np.asarray(columns, dtype=np.intp)]]
    raise _Unsupported(f"column selection {columns!r}")


def compile_column_transformer(ct) -> Transform | None:
    """A numpy version of fitted ``ct.transform`` for a DataFrame (or its numpy columns), or None when ``ct`` is
    not covered."""
    from sklearn.compose import ColumnTransformer

    if type(ct) is not ColumnTransformer:
        return None
    try:
        if ct.sparse_output_ or ct.transformer_weights or not hasattr(ct, "feature_names_in_"):
            raise _Unsupported("sparse or weighted output, or not fitted on a DataFrame")
        if not _dense_output(ct):
            raise _Unsupported("pandas/polars output")
        blocks = []
        for _name, trans, columns in ct.transformers_:
            names = _input_names(ct, columns)
            if (isinstance(trans, str) and trans == "drop") or not names:
                continue
            try:
                blocks.append(("num", names, _numeric_block(trans)))
            except _Unsupported:
                blocks.append(("cat", names, _categorical_block(trans)))
    except _Unsupported as why:
        log.info("serving fast path not used for this pipeline: %s", why)
        return None
    except (AttributeError, KeyError, TypeError, IndexError) as err:  # fitted state not as this module expects
        log.warning("serving fast path off: the fitted ColumnTransformer does not look as expected (%s: %s); "
                    "the model answers through its own pipeline", type(err).__name__, err)
        return None

    def transform(frame: Columns) -> np.ndarray | None:
        n = len(frame) if isinstance(frame, pd.DataFrame) else len(next(iter(frame.values()), ()))
        parts = []
        for kind, names, block in blocks:
            if kind == "num":
                x = _numeric(frame, n, names)
                if x is None or np.isinf(x).any():  # sklearn's own checks reject infinities
                    return None
                for step in block:
                    step(x)
            else:
                width, fill = block
                x = np.zeros((n, width), dtype="float64")
                if not fill(frame, n, names, x):
                    return None
            parts.append(x)
        return np.hstack(parts) if parts else np.zeros((n, 0))

    return transform


def compile_pipeline(estimator) -> tuple[Transform, object] | None:
    """``(transform, final_estimator)`` for a Pipeline ``[ColumnTransformer, estimator]``, else None.

    ``final_estimator.predict*(transform(frame))`` computes what ``estimator.predict*(frame)`` does; for a
    HistGradientBoosting model it is its :class:`TreeWalk`.
    """
    from sklearn.pipeline import Pipeline

    if type(estimator) is not Pipeline or len(estimator.steps) != 2:
        return None
    final = estimator.steps[-1][1]
    if getattr(final, "feature_names_in_", None) is not None:  # it was fitted on a frame: keep the pipeline
        return None
    transform = compile_column_transformer(estimator.steps[0][1])
    if transform is None:
        return None
    return transform, compile_trees(final) or final


class TreeWalk:
    """``predict`` / ``predict_proba`` of a fitted binary HistGradientBoostingClassifier or a
    HistGradientBoostingRegressor on a float64 matrix, every tree walked at once (no categorical splits)."""

    def __init__(self, model, nodes: list[np.ndarray], baseline: np.ndarray):
        self.model = model
        self.classes_ = getattr(model, "classes_", None)
        sizes = [len(n) for n in nodes]
        offsets = np.cumsum([0, *sizes[:-1]])
        flat = np.concatenate(nodes)
        base = np.repeat(offsets, sizes)
        leaf = flat["is_leaf"].astype(bool)
        own = np.arange(len(flat))
        # A leaf points at itself: walking past the bottom of a shallow tree stays on its leaf.
        self.left = np.where(leaf, own, base + flat["left"].astype(np.intp))
        self.right = np.where(leaf, own, base + flat["right"].astype(np.intp))
        self.feature = np.where(leaf, 0, flat["feature_idx"]).astype(np.intp)
        self.threshold = flat["num_threshold"].astype("float64")
        self.missing_left = flat["missing_go_to_left"].astype(bool)
        self.value = flat["value"].astype("float64")
        self.roots = offsets.astype(np.intp)
        self.levels = int(flat["depth"].max()) if len(flat) else 0
        self.baseline = float(baseline.reshape(-1)[0])

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The summed leaf values per row, shape (n, 1), as ``model._raw_predict(x)``."""
        n = len(x)
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        for _ in range(self.levels):
            v = x[rows, self.feature[node]]
            go_left = (v <= self.threshold[node]) | (np.isnan(v) & self.missing_left[node])
            node = np.where(go_left, self.left[node], self.right[node])
        terms = np.empty((n, len(self.roots) + 1), dtype="float64")
        terms[:, 0] = self.baseline
        terms[:, 1:] = self.value[node]
        # scikit-learn adds tree by tree onto the baseline; accumulate keeps that order (a sum would pair them up).
        return np.add.accumulate(terms, axis=1)[:, -1:]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if len(x) > TREE_WALK_MAX_ROWS:
            return self.model.predict_proba(x)
        return self.model._loss.predict_proba(self.raw(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        if len(x) > TREE_WALK_MAX_ROWS:
            return self.model.predict(x)
        raw = self.raw(x)
        if self.classes_ is not None:
            return self.classes_[(raw.ravel() > 0).astype(int)]
        return self.model._loss.link.inverse(raw.ravel())


def compile_trees(model) -> TreeWalk | None:
    """A :class:`TreeWalk` of a fitted HistGradientBoosting model, or None (other models, multi-class,
    categorical splits, or scikit-learn internals that moved: logged, the model then runs as it is)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if type(model) not in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
        return None
    if model.n_trees_per_iteration_ != 1:
        return None
    try:  # no public API exposes the fitted trees: _predictors, _baseline_prediction, _loss are scikit-learn's own
        nodes = [p.nodes for (p,) in model._predictors]
        if any(n["is_categorical"].any() for n in nodes):
            return None
        walk = TreeWalk(model, nodes, np.asarray(model._baseline_prediction))
        model._loss.predict_proba if walk.classes_ is not None else model._loss.link.inverse  # noqa: B018
    except (AttributeError, KeyError, ValueError, TypeError) as err:
        log.warning("the tree walk is off for this %s: scikit-learn's fitted internals were not as expected "
                    "(%s: %s); predictions go through scikit-learn", type(model).__name__, type(err).__name__, err)
        return None
    return walk
