"""A lean transform for common fitted preprocessing (ColumnTransformer of imputers, scalers, encoders), in numpy.

scikit-learn's per-call overhead (validation, pandas indexing, output wrapping) dominates a small batch:
about 2.5 ms of a 3 ms ``predict_proba`` of one churn row goes to the ColumnTransformer. Serving only
*reads* the fitted state, so for the handful of transformers our pipelines use, the same arithmetic is
done here directly on the columns. Anything not recognised exactly (other transformers, options such as
infrequent categories, ``add_indicator``, pandas output, weights) compiles to ``None`` and the pipeline
runs as it is. At transform time, inputs the fast path does not cover (unknown or missing categories,
non-numeric or non-finite numbers) return ``None`` too, so the pipeline answers — and raises — as always.
:class:`mlops_assets.serving.models.LoadedModel` also checks the result is bit-identical on sample rows
before using it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: frame -> float64 matrix (the ColumnTransformer's output), or None to use the pipeline itself.
Transform = Callable[[pd.DataFrame], "np.ndarray | None"]
#: one transformer step on a float64 block, in place.
_Step = Callable[[np.ndarray], None]


class _Unsupported(Exception):
    pass


def _numeric(frame: pd.DataFrame, names: list[str]) -> np.ndarray | None:
    """The columns as one float64 block (what check_array makes of them), or None if one is not numeric."""
    out = np.empty((len(frame), len(names)), dtype="float64")
    for j, name in enumerate(names):
        col = frame[name]
        if col.dtype.kind not in "biuf":  # object, strings, datetimes: leave them to scikit-learn
            return None
        if isinstance(col.dtype, np.dtype):
            out[:, j] = col.to_numpy()  # bool/int/float -> float64: the cast check_array makes
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


def _codes(frame: pd.DataFrame, names: list[str], lookups: list[dict]) -> list[np.ndarray] | None:
    """Category index per row and column, or None when a value is not a known category (left to sklearn)."""
    out = []
    for name, lookup in zip(names, lookups):
        try:
            out.append(np.fromiter((lookup[v] for v in frame[name].tolist()), dtype=np.intp, count=len(frame)))
        except (KeyError, TypeError):  # unknown, missing or unhashable: the encoder decides what happens
            return None
    return out


def _categorical_block(trans):
    """(width, fill(frame, names, out) -> bool) for OneHotEncoder/OrdinalEncoder, else raise."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if type(trans) is OneHotEncoder:
        if trans.drop_idx_ is not None or trans.sparse_output:
            raise _Unsupported("OneHotEncoder with drop or sparse output")
        lookups = _lookups(trans)
        widths = [len(c) for c in trans.categories_]
        offsets = np.cumsum([0, *widths[:-1]])

        def fill(frame, names, out) -> bool:
            codes = _codes(frame, names, lookups)
            if codes is None:
                return False
            rows = np.arange(len(frame))
            for off, code in zip(offsets, codes):
                out[rows, off + code] = 1.0
            return True

        return sum(widths), fill
    if type(trans) is OrdinalEncoder:
        lookups = _lookups(trans)

        def fill(frame, names, out) -> bool:
            codes = _codes(frame, names, lookups)
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
    """A numpy version of fitted ``ct.transform`` for a DataFrame, or None when ``ct`` is not covered."""
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

    def transform(frame: pd.DataFrame) -> np.ndarray | None:
        parts = []
        for kind, names, block in blocks:
            if kind == "num":
                x = _numeric(frame, names)
                if x is None or np.isinf(x).any():  # sklearn's own checks reject infinities
                    return None
                for step in block:
                    step(x)
            else:
                width, fill = block
                x = np.zeros((len(frame), width), dtype="float64")
                if not fill(frame, names, x):
                    return None
            parts.append(x)
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    return transform


def compile_pipeline(estimator) -> tuple[Transform, object] | None:
    """``(transform, final_estimator)`` for a Pipeline ``[ColumnTransformer, estimator]``, else None.

    ``final_estimator.predict*(transform(frame))`` computes what ``estimator.predict*(frame)`` does.
    """
    from sklearn.pipeline import Pipeline

    if type(estimator) is not Pipeline or len(estimator.steps) != 2:
        return None
    final = estimator.steps[-1][1]
    if getattr(final, "feature_names_in_", None) is not None:  # it was fitted on a frame: keep the pipeline
        return None
    transform = compile_column_transformer(estimator.steps[0][1])
    return None if transform is None else (transform, final)
