"""The request contract: which raw fields a project's model needs, checked column-at-a-time against the spec."""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from mlops_assets.features import churn
from mlops_assets.features.transforms import build_feature_arrays, build_features
from mlops_assets.spec import ColumnSpec, DbtFeatures, ProjectSpec

#: dbt feature model -> the raw columns its feature function reads (passthrough projects need features.columns).
RAW_INPUTS: dict[str, list[str]] = {
    "churn_features": list(churn.INPUT_COLUMNS),
}

#: Most problems listed in one 422 response; the total is reported alongside.
MAX_PROBLEMS = 100

# infer_dtype(skipna=True) kinds accepted per spec dtype without a per-value look.
_OK_KINDS: dict[str, set[str]] = {
    "int": {"integer"},
    "float": {"integer", "floating", "mixed-integer-float"},
    "bool": {"boolean"},
    "str": {"string"},
    "category": {"string"},
    "datetime": {"string", "datetime64", "datetime"},
}
_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "category": "a string",
    "datetime": "an ISO-8601 date-time string",
}


class ContractError(ValueError):
    """Records that break the contract; ``problems`` are ``{"record", "field", "error"}`` dicts."""

    def __init__(self, problems: list[dict], total: int | None = None):
        self.problems = problems[:MAX_PROBLEMS]
        self.total = len(problems) if total is None else total
        super().__init__("; ".join(f"record {p['record']} field '{p['field']}': {p['error']}" for p in self.problems[:3]))


@dataclass(frozen=True)
class Validated:
    """Validated raw rows with canonical dtypes (``raw``), and warnings about what was ignored.

    ``columns`` are the rows as plain numpy arrays, when every column is one (no nullable int/bool column with a
    null, no datetime): the micro-batcher computes features from these without pandas. ``raw`` is then built from
    them on first use (``copy=False``), so a request scored on that path never builds a frame.
    """

    frame: pd.DataFrame | None
    warnings: list[str] = field(default_factory=list)
    columns: dict[str, np.ndarray] | None = None

    @functools.cached_property
    def raw(self) -> pd.DataFrame:
        if self.frame is not None:
            return self.frame
        return pd.DataFrame(self.columns, index=pd.RangeIndex(self.rows), copy=False)

    @property
    def rows(self) -> int:
        return len(self.frame) if self.frame is not None else len(next(iter(self.columns.values())))


def required_columns(spec: ProjectSpec) -> list[str]:
    """The raw columns a request must carry for ``spec``'s features."""
    if isinstance(spec.features, DbtFeatures):
        if spec.features.model not in RAW_INPUTS:
            raise KeyError(
                f"project '{spec.name}': dbt model '{spec.features.model}' has no raw-input list; "
                f"add it to mlops_assets.serving.contract.RAW_INPUTS (known: {sorted(RAW_INPUTS)})"
            )
        return list(RAW_INPUTS[spec.features.model])
    return list(spec.features.columns)


def _fmt(v: object) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


_KIND = {"i": "integer", "u": "integer", "f": "floating", "b": "boolean"}


def _convert(col: ColumnSpec, arr: np.ndarray, null: np.ndarray | None):
    """Cast a checked column to the dtype training data has (nulls as NaN/NA/None)."""
    if col.dtype == "int":
        if null is None:
            return arr.astype("int64", copy=False)
        return pd.array(np.where(null, None, arr).tolist(), dtype="Int64")
    if col.dtype == "float":
        if arr.dtype.kind == "f":
            return arr.astype("float64", copy=False)
        return (arr if null is None else np.where(null, np.nan, arr)).astype("float64")
    if col.dtype == "bool":
        return arr.astype(bool) if null is None else pd.array(np.where(null, None, arr).tolist(), dtype="boolean")
    if col.dtype == "datetime":
        return pd.to_datetime(pd.Series(np.where(null, None, arr) if null is not None else arr),
                              utc=True, format="ISO8601").array
    return arr if null is None else np.where(null, None, arr)


def check_column(name: str, col: ColumnSpec, arr: np.ndarray) -> tuple[list[dict], object]:
    """Check one column's values; return (problems, the column cast to its canonical dtype, or None on problems).

    Vectorised: a column of the right JSON type passes with array operations only; a column that
    fails the cheap type test is looked at value by value, to say which records are wrong.
    """
    arr = np.asarray(arr)
    problems: list[dict] = []

    def report(rows: np.ndarray, message) -> None:
        for i in rows:
            j = int(i) if idx is None else int(idx[i])
            problems.append({"record": j, "field": name, "error": message(values[i])})

    null = np.isnan(arr) if arr.dtype.kind == "f" else (pd.isna(arr) if arr.dtype.kind == "O" else None)
    if null is not None and not null.any():
        null = None
    values, idx = arr, None
    if null is not None:
        if not col.nullable:
            problems += [{"record": int(i), "field": name, "error": "is required: missing or null"}
                         for i in np.flatnonzero(null)]
        idx = np.flatnonzero(~null)
        values = arr[idx]
    if len(values) == 0:
        return problems, (None if problems else _convert(col, arr, null))
    kind = _KIND.get(values.dtype.kind) or infer_dtype(values, skipna=False)
    if values.dtype.kind == "O" and kind == "integer" and col.dtype in ("int", "float"):
        try:  # JSON ints of a records list: int64 unless one is out of its range (then looked at one by one)
            values = values.astype("int64")
        except OverflowError:
            pass
    numeric_objects = col.dtype in ("int", "float") and values.dtype.kind == "O"
    if (kind not in _OK_KINDS[col.dtype] or (col.dtype == "int" and values.dtype.kind not in "iu")
            or numeric_objects or (col.dtype == "str" and not all(map(utf8, values.tolist())))):
        ok = np.fromiter((_value_ok(col.dtype, v) for v in values.tolist()), bool, len(values))
        if not ok.all():
            report(np.flatnonzero(~ok), lambda v: f"must be {_EXPECTED[col.dtype]}, got {_fmt(v)}")
            return problems, None
    if col.dtype in ("int", "float"):
        x = values.astype("float64")
        if not np.isfinite(x).all():  # e.g. 1e400 parses to inf
            report(np.flatnonzero(~np.isfinite(x)), lambda v: f"must be a finite number, got {_fmt(v)}")
            return problems, None
        if col.min is not None and (x < col.min).any():
            report(np.flatnonzero(x < col.min), lambda v: f"must be >= {_num(col.min)}, got {_fmt(v)}")
        if col.max is not None and (x > col.max).any():
            report(np.flatnonzero(x > col.max), lambda v: f"must be <= {_num(col.max)}, got {_fmt(v)}")
    elif col.categories is not None:
        allowed = set(col.categories)
        if not set(values.tolist()) <= allowed:
            bad = np.fromiter((v not in allowed for v in values.tolist()), bool, len(values))
            report(np.flatnonzero(bad), lambda v: f"unknown category {_fmt(v)}; expected one of {col.categories}")
    elif col.dtype == "datetime" and kind == "string":
        parsed = pd.to_datetime(pd.Series(values), errors="coerce", utc=True, format="ISO8601")
        report(np.flatnonzero(parsed.isna().to_numpy()),
               lambda v: f"must be {_EXPECTED['datetime']}, got {_fmt(v)}")
    if problems:
        return problems, None
    return problems, _convert(col, arr, null)


def _value_ok(dtype: str, v: object) -> bool:
    t = type(v)
    if dtype == "int":
        return (t is int and -(2**63) <= v < 2**63) or (t is float and v.is_integer() and abs(v) < 2**63)
    if dtype == "float":  # an int must fit a float64 (JSON allows any number of digits)
        return t is float or (t is int and -_FLOAT_MAX <= v <= _FLOAT_MAX)
    if dtype == "bool":
        return t is bool
    return t is str and utf8(v)


#: The largest int a float64 holds (finite).
_FLOAT_MAX = int(sys.float_info.max)


def utf8(v: object) -> bool:
    """``v`` is a str that encodes to UTF-8 (JSON may carry lone surrogates, which Parquet cannot store)."""
    if type(v) is not str:
        return False
    if v.isascii():
        return True
    try:
        v.encode()
    except UnicodeEncodeError:
        return False
    return True


#: Most records :meth:`Contract.validate_records` checks without building a frame.
FAST_RECORDS = 32
_PLAIN_DTYPES = {"int": "int64", "float": "float64", "bool": "bool", "str": object, "category": object}


def _plain_ok(col: ColumnSpec, v: object) -> bool:
    """``v`` is a non-null value of ``col``'s JSON type, finite and in range or category (datetimes: never)."""
    t = type(v)
    if col.dtype in ("int", "float"):
        if t is int:
            if not -(2**63) <= v < 2**63:
                return False
        elif t is not float or col.dtype == "int" or not math.isfinite(v):
            return False
        x = float(v)  # compared as float64, like the frame path
        return (col.min is None or x >= col.min) and (col.max is None or x <= col.max)
    if col.dtype == "bool":
        return t is bool
    if col.dtype in ("str", "category"):
        return t is str and (v in col.categories if col.categories is not None else utf8(v))
    return False


def _objects(values: list) -> np.ndarray:
    """A 1-d object array of exactly these values (``np.array`` would nest lists into more dimensions)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _ignored(extra: list[str]) -> list[str]:
    if not extra:
        return []
    more = f" and {len(extra) - 20} more" if len(extra) > 20 else ""
    return [f"ignored unknown fields: {sorted(extra)[:20]}{more}"]


class Contract:
    """The request contract of one project: required raw fields with their spec'd dtype, nullability and range.

    Examples
    --------
    >>> from mlops_assets.spec import load_spec
    >>> c = Contract(load_spec("projects/churn.yaml"))
    >>> c.validate(pd.DataFrame([c.example_record()])).raw.shape
    (1, 12)
    """

    def __init__(self, spec: ProjectSpec):
        self.spec = spec
        self.fields = required_columns(spec)
        cols = spec.schema_.columns
        unknown = [c for c in self.fields if c not in cols]
        if unknown:
            raise KeyError(f"project '{spec.name}': required raw fields {unknown} are not among schema.columns")
        self.columns: dict[str, ColumnSpec] = {c: cols[c] for c in self.fields}
        self.known = set(cols)

    def validate(self, frame: pd.DataFrame) -> Validated:
        """Check request rows (one row per record, JSON-typed); raise ContractError naming record and field."""
        columns = {c: frame[c].to_numpy() for c in self.fields if c in frame.columns}
        return self._validate(len(frame), columns, [str(c) for c in frame.columns if c not in self.known])

    def validate_columns(self, columns: dict[str, list], n: int) -> Validated:
        """:meth:`validate` of column lists of JSON values (``n`` rows each), without a frame: numbers of any
        size are kept as Python objects (a frame turns a 400-digit int into an OverflowError)."""
        arrays = {c: _objects(v) for c, v in columns.items() if c in self.columns}
        return self._validate(n, arrays, [str(c) for c in columns if c not in self.known])

    def _validate(self, n: int, columns: dict[str, np.ndarray], extra: list[str]) -> Validated:
        if n == 0:
            raise ContractError([{"record": None, "field": None, "error": "no records: send at least one"}])
        problems: list[dict] = []
        out: dict[str, object] = {}
        for name, col in self.columns.items():
            if name not in columns:
                problems.append({"record": None, "field": name, "error": "missing required field (in every record)"})
                continue
            found, converted = check_column(name, col, columns[name])
            problems += found
            if converted is not None:
                out[name] = converted
        if problems:
            problems.sort(key=lambda p: (-1 if p["record"] is None else p["record"], self.fields.index(p["field"])))
            raise ContractError(problems)
        # copy=False: one block per column instead of consolidating (a copy per request, for nothing)
        frame = pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)
        # Plain numpy columns (no nullable int/bool, no datetimes) are kept for the batcher's numpy path.
        arrays = out if all(type(v) is np.ndarray for v in out.values()) else None
        return Validated(frame, _ignored(extra), arrays)

    def validate_records(self, records: list[dict]) -> Validated:
        """``validate(pd.DataFrame(records))`` for a list of JSON objects, without the frame.

        A small batch of plain records (every required field present, of its JSON type, in range or
        category, no nulls) is checked value by value and turned into typed columns directly: building and
        checking a frame costs ~0.5 ms per single-row request. Anything else is checked column by column
        over object arrays (a missing field is null), which gives the same result and words every error.
        """
        fast = self._plain(records) if len(records) <= FAST_RECORDS else None
        extra = list(dict.fromkeys(str(k) for r in records for k in r if k not in self.known))
        if fast is None:
            present = {k for r in records for k in r}
            columns = {c: _objects([r.get(c) for r in records]) for c in self.fields if c in present}
            return self._validate(len(records), columns, extra)
        return Validated(None, _ignored(extra), fast)

    def _plain(self, records: list[dict]) -> dict[str, np.ndarray] | None:
        out = {}
        for name, col in self.columns.items():
            try:
                values = [r[name] for r in records]
            except KeyError:
                return None
            if not all(_plain_ok(col, v) for v in values):
                return None
            out[name] = np.array(values, dtype=_PLAIN_DTYPES[col.dtype])
        return out

    def features(self, raw: pd.DataFrame) -> pd.DataFrame:
        """The model's features from validated raw rows: the training definitions, unchanged."""
        return build_features(self.spec, raw)

    def feature_arrays(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """:meth:`features` of validated raw rows given as numpy columns (``Validated.columns``), as numpy
        columns; None when the project's feature function has no array twin."""
        return build_feature_arrays(self.spec, columns)

    def check_value(self, name: str, value: object) -> list[dict]:
        """Problems with one value of schema column ``name`` (used for feedback labels)."""
        problems, _ = check_column(name, self.spec.schema_.columns[name], _objects([value]))
        return problems

    def example_record(self) -> dict:
        """A valid record (for warm-up, the post-load check and the OpenAPI example)."""
        rec: dict = {}
        for name, col in self.columns.items():
            if col.dtype in ("int", "float"):
                lo = col.min if col.min is not None else 0.0
                hi = col.max if col.max is not None else lo + 2.0
                v = lo + (hi - lo) / 4
                rec[name] = int(v) if col.dtype == "int" else float(v)
            elif col.dtype == "bool":
                rec[name] = False
            elif col.dtype == "datetime":
                rec[name] = f"{self.spec.start_date.isoformat()}T00:00:00Z"
            else:
                rec[name] = col.categories[0] if col.categories else "example"
        return rec

    def sample_records(self, n: int = 24) -> list[dict]:
        """``n`` valid records that go through every category, several points of each range, true and
        false, and null where allowed (the post-load check runs the model on them)."""
        rows = []
        for i in range(n):
            rec = self.example_record()
            for k, (name, col) in enumerate(self.columns.items()):
                if col.nullable and (i + k) % 5 == 4:
                    rec[name] = None
                elif col.dtype in ("int", "float"):
                    lo = col.min if col.min is not None else 0.0
                    hi = col.max if col.max is not None else lo + 100.0
                    v = lo + (hi - lo) * ((i * 7 + k) % n) / max(n - 1, 1)
                    rec[name] = int(v) if col.dtype == "int" else round(float(v), 3)
                elif col.dtype == "bool":
                    rec[name] = (i + k) % 2 == 1
                elif col.categories:
                    rec[name] = col.categories[(i + k) % len(col.categories)]
            rows.append(rec)
        return rows

    def json_schema(self) -> dict:
        """JSON Schema of one record (for the OpenAPI document)."""
        types = {"int": "integer", "float": "number", "bool": "boolean", "str": "string", "category": "string",
                 "datetime": "string"}
        props = {}
        for name, col in self.columns.items():
            p: dict = {"type": [types[col.dtype], "null"] if col.nullable else types[col.dtype]}
            if col.min is not None:
                p["minimum"] = col.min
            if col.max is not None:
                p["maximum"] = col.max
            if col.categories is not None:
                p["enum"] = list(col.categories)
            if col.dtype == "datetime":
                p["format"] = "date-time"
            if col.description:
                p["description"] = col.description
            props[name] = p
        return {"type": "object", "properties": props, "required": list(self.fields),
                "additionalProperties": True}
