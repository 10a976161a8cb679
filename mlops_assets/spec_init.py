"""A project spec inferred from a sample CSV (`mlops-assets init`), the way TFDV's ``infer_schema`` does it.

:func:`infer_spec` is pure (a frame in, a spec mapping and review notes out); :func:`render_spec`,
:func:`write_spec` and :func:`split_landing` are the writers. No Dagster import; pandas is imported inside the
functions (the CLI module that imports this one stays cheap to import).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    import pandas as pd

    from mlops_assets.spec import ProjectSpec

#: Observed [min, max] widened by this fraction of the observed span on each side.
RANGE_MARGIN = 0.5
#: A string column with at most this many distinct values (and at most half as many as non-null values) is a category.
MAX_CATEGORIES = 50
#: Column statistics are computed on at most this many rows (a seeded sample); days and row counts on all rows.
SAMPLE_ROWS = 100_000
#: Default training window when the sample covers enough days (training.window_days + holdout_days).
WINDOW_DAYS, HOLDOUT_DAYS = 28, 7

_ID_NAME = re.compile(r"(^|_)(id|uuid|key)$", re.IGNORECASE)
_TIME_NAME = re.compile(r"time|date|timestamp|(^|_)at$|(^|_)ts$", re.IGNORECASE)
_EVENT_NAME = re.compile(r"event|timestamp", re.IGNORECASE)
_INT_TEXT = re.compile(r"^[+-]?\d+$")
_BOOL_TEXT = {"true": True, "false": False}  # what pandas.read_csv reads as booleans (any case)
#: Two-class targets whose positive class is obvious: (negative, positive), lower-cased.
_OBVIOUS_PAIRS = [("no", "yes"), ("n", "y"), ("false", "true"), ("f", "t"), ("negative", "positive"),
                  ("neg", "pos"), ("0", "1"), ("-1", "1")]


class InitError(ValueError):
    """The CSV does not give what a spec needs; the message says what to add or which option to pass."""


# ---------------------------------------------------------------- reading
def read_csv_text(path: Path | str) -> pd.DataFrame:
    """The CSV with every cell as text (nulls as NaN), so that inference sees what the file spells.

    Raises :class:`InitError` naming the file when it cannot be read or is empty.
    """
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=True)
    except FileNotFoundError:
        raise InitError(f"no such CSV file: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InitError(f"cannot read {path} as CSV: {type(err).__name__}: {err}") from None
    if frame.empty:
        raise InitError(f"{path} has a header but no rows: init needs sample rows to infer from")
    return frame


# ---------------------------------------------------------------- per-column typing
def _parse_datetimes(values: pd.Series) -> pd.Series:
    """Datetimes from ISO 8601 text (NaT where a value is not one); datetime columns pass through."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return pd.Series(pd.NaT, index=values.index)
    return pd.to_datetime(values, errors="coerce", format="ISO8601")


def typed_column(values: pd.Series) -> tuple[str, pd.Series]:
    """(spec dtype before category detection, the values converted to it) of one column.

    Text is read as bool (true/false in any case, as pandas reads them), int (digits only), float, datetime
    (ISO 8601) or str, the first that every non-null value fits; typed columns keep their dtype.

    >>> import pandas as pd
    >>> [typed_column(pd.Series(v, dtype=object))[0] for v in (["1", None], ["1.5", "2"], ["TRUE", "false"],
    ...     ["2026-01-01 10:00", "2026-01-02"], ["a", "1"])]
    ['int', 'float', 'bool', 'datetime', 'str']
    """
    import pandas as pd

    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return "bool", values
    if pd.api.types.is_integer_dtype(values):
        return "int", values
    if pd.api.types.is_float_dtype(values):
        return "float", values
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime", values
    text = present.astype(str).str.strip()
    if len(text) and text.str.lower().isin(_BOOL_TEXT).all():
        return "bool", values.map(lambda v: v if pd.isna(v) else _BOOL_TEXT[str(v).strip().lower()])
    if len(text) and text.str.match(_INT_TEXT).all():
        return "int", pd.to_numeric(values)
    numbers = pd.to_numeric(text, errors="coerce")
    if len(text) and numbers.notna().all():
        return "float", pd.to_numeric(values)
    times = _parse_datetimes(values)
    if len(text) and times[present.index].notna().all():
        return "datetime", times
    return "str", values


def _outward(value: float, step: float, up: bool) -> float:
    return (math.ceil if up else math.floor)(value / step) * step


def numeric_range(values: pd.Series, integer: bool) -> tuple[float, float]:
    """The declared [min, max]: the observed range widened by :data:`RANGE_MARGIN` of its span on each side,
    floored at 0 when every observed value is non-negative, rounded outward (to whole numbers for ints, to three
    significant digits of the widened span for floats).

    >>> import pandas as pd
    >>> numeric_range(pd.Series([10, 20]), integer=True)
    (5, 25)
    >>> numeric_range(pd.Series([0.2, 1.0]), integer=False)
    (0.0, 1.4)
    >>> numeric_range(pd.Series([-3.0, 1.0]), integer=False)
    (-5.0, 3.0)
    """
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    margin = RANGE_MARGIN * span if span > 0 else max(abs(lo) * RANGE_MARGIN, 1.0)
    low, high = lo - margin, hi + margin
    if lo >= 0:
        low = max(low, 0.0)
    if integer:
        return int(math.floor(low)), int(math.ceil(high))
    step = 10.0 ** (math.floor(math.log10(high - low)) - 2)
    low, high = _outward(low, step, up=False), _outward(high, step, up=True)
    digits = max(0, -int(math.floor(math.log10(step))))
    return round(low, digits), round(high, digits)


# ---------------------------------------------------------------- the spec
@dataclass
class _Column:
    name: str
    dtype: str
    values: pd.Series  # converted to the dtype; nulls kept
    spec: dict = field(default_factory=dict)


def _profile(sample: pd.DataFrame) -> dict[str, _Column]:
    return {str(name): _Column(str(name), *typed_column(sample[name])) for name in sample.columns}


def _pick_id(columns: dict[str, _Column], given: str | None, frame: pd.DataFrame) -> str:
    if given is not None:
        if given not in columns:
            raise InitError(f"--id-column '{given}' is not a column of the CSV ({', '.join(columns)})")
        if frame[given].isna().any() or frame[given].duplicated().any():
            raise InitError(f"--id-column '{given}' has nulls or duplicates: an id must be unique on every row")
        return given
    named = [c for c in columns if _ID_NAME.search(c)]
    unique = [c for c in named if not frame[c].isna().any() and not frame[c].duplicated().any()]
    if unique:
        return min(unique, key=lambda c: (c.lower() != "id", named.index(c)))
    why = (f"columns named like an id ({', '.join(named)}) have nulls or duplicates" if named
           else "no column is named like an id (id, *_id, uuid, *_key)")
    raise InitError(f"cannot find the id column: {why}. The platform needs a unique id per row: add one to the "
                    "CSV (e.g. a row number column named 'id') or name it with --id-column")


def _pick_event_time(columns: dict[str, _Column], given: str | None) -> str:
    times = [c for c, col in columns.items() if col.dtype == "datetime"]
    if given is not None:
        if given not in columns:
            raise InitError(f"--event-time-column '{given}' is not a column of the CSV ({', '.join(columns)})")
        if given not in times:
            raise InitError(f"--event-time-column '{given}' does not parse as ISO 8601 datetimes on every row "
                            "(e.g. 2026-01-31 or 2026-01-31T12:00:00): convert it in the CSV")
        return given
    if not times:
        raise InitError("cannot find the event-time column: no column parses as ISO 8601 datetimes on every row. "
                        "The platform partitions data by the day of each row's event time: add such a column "
                        "(e.g. event_time = 2026-01-31T12:00:00) or name it with --event-time-column")
    rank = sorted(times, key=lambda c: (not _EVENT_NAME.search(c), not _TIME_NAME.search(c), times.index(c)))
    return rank[0]


def _positive_class(values: pd.Series, notes: list[str]) -> object:
    """The positive class of a two-valued str target: the obvious one (yes, true, positive...) or the rarer one."""
    counts = values.dropna().astype(str).value_counts()
    classes = sorted(counts.index)
    lowered = tuple(c.lower() for c in classes)
    for negative, positive in _OBVIOUS_PAIRS:
        if set(lowered) == {negative, positive}:
            chosen = classes[lowered.index(positive)]
            notes.append(f"target.positive_class is '{chosen}' (of {classes}): the model scores the probability of "
                         "it; check that this is the class you want to detect.")
            return chosen
    chosen = str(counts.sort_values(kind="stable").index[0])
    share = counts[chosen] / counts.sum()
    notes.append(f"target.positive_class was GUESSED as '{chosen}', the rarer of {classes} ({share:.0%} of rows): "
                 "set it to the class the model should detect (it scores that class's probability).")
    return chosen


def _target_spec(col: _Column, task: str | None, notes: list[str]) -> tuple[dict, dict]:
    """(the target's column spec, the target section) for the target column; task inferred unless given."""
    values = col.values.dropna()
    distinct = values.nunique()
    if distinct < 2:
        raise InitError(f"target '{col.name}' has {distinct} distinct value(s) in the sample: a model needs at "
                        "least two; use a sample that holds both classes (or a spread of values)")
    numeric = col.dtype in ("int", "float")
    inferred = "classification" if distinct <= 2 or not numeric else "regression"
    task = task or inferred
    if task == "regression":
        if not numeric:
            raise InitError(f"target '{col.name}' is {col.dtype}, not numeric: a regression target must be int or "
                            "float (drop --task regression, or convert the target)")
        lo, hi = numeric_range(values, col.dtype == "int")
        notes.append(f"task: regression (target '{col.name}' has {distinct} distinct numeric values); "
                     f"its range [{lo}, {hi}] blocks rows outside it: review it.")
        return {"dtype": col.dtype, "min": lo, "max": hi}, {"column": col.name, "task": task}
    if distinct > 2:
        raise InitError(f"target '{col.name}' has {distinct} distinct values {sorted(map(str, values.unique()))[:10]}"
                        ": only binary classification is supported. Map the target to two classes in the CSV, or "
                        "pass --task regression for a numeric target")
    section = {"column": col.name, "task": task}
    why = "--task classification" if inferred != task else f"target '{col.name}' has {distinct} distinct values"
    if col.dtype == "bool":
        notes.append(f"task: classification ({why}); positive class: true (the default for a bool target).")
        return {"dtype": "bool"}, section
    if numeric and set(values.unique()) == {0, 1}:
        notes.append(f"task: classification ({why}); positive class: 1 (the default for a 0/1 target).")
        return {"dtype": col.dtype, "min": 0, "max": 1}, section
    notes.append(f"task: classification ({why}).")
    section["positive_class"] = _positive_class(values, notes)
    categories = sorted(values.astype(str).unique())
    if numeric:
        notes.append(f"target '{col.name}' holds {categories}, not 0/1: it is declared a category of those strings "
                     "(/feedback then takes them as strings); mapping it to 0/1 in the CSV is simpler.")
    return {"dtype": "category", "categories": categories}, section


def _column_spec(col: _Column) -> dict:
    values = col.values.dropna()
    spec: dict = {"dtype": col.dtype}
    if col.dtype in ("int", "float") and len(values):
        spec["min"], spec["max"] = numeric_range(values, col.dtype == "int")
    elif col.dtype == "str":
        distinct = values.astype(str).nunique()
        if 0 < distinct <= MAX_CATEGORIES and 2 * distinct <= len(values):
            spec = {"dtype": "category", "categories": sorted(values.astype(str).unique())}
    return spec


def _window(days: int, notes: list[str]) -> dict:
    if days >= WINDOW_DAYS + HOLDOUT_DAYS:
        return {"window_days": WINDOW_DAYS, "holdout_days": HOLDOUT_DAYS}
    if days < 2:
        notes.append("the sample covers one day: training needs at least two days of files (one to train on, one "
                     "to hold out); the window is 1 + 1 days, so drop a second day's file before training.")
        return {"window_days": 1, "holdout_days": 1}
    holdout = max(1, round(days * HOLDOUT_DAYS / (WINDOW_DAYS + HOLDOUT_DAYS)))
    notes.append(f"training window: {days - holdout} train + {holdout} holdout days, to fit the sample's {days} "
                 f"days; widen training.window_days/holdout_days (e.g. {WINDOW_DAYS} + {HOLDOUT_DAYS}) as days "
                 "accumulate.")
    return {"window_days": days - holdout, "holdout_days": holdout}


def infer_spec(
    df: pd.DataFrame,
    name: str,
    target: str,
    task: str | None = None,
    *,
    id_column: str | None = None,
    event_time_column: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
    source_file: str = "a sample CSV",
) -> tuple[dict, list[str]]:
    """A project spec mapping for the rows of `df` (text as read by :func:`read_csv_text`, or typed columns), and
    the notes of what the user must still review or decide.

    Per column: dtype (bool, int, float, datetime, category for low-cardinality strings, else str), nullable
    (nulls seen), numeric min/max (:func:`numeric_range`). The id column is a unique, non-null column named like
    an id; the event time the datetime column named most like one; features are every other column but the
    target (free-text strings and other datetimes left out, with a note). The task is classification for a
    target with two values or of strings, else regression; `task` overrides it. The source is a landing
    directory of daily CSV files ``landing/<name>/<name>_<YYYY-MM-DD>.csv``; ``start_date`` is the first
    event day. Raises :class:`InitError` saying what to add when the data cannot give a spec.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": ["a", "b", "c", "d"], "ts": ["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02"],
    ...                    "x": ["1.5", "2.5", None, "3.5"], "y": ["0", "1", "1", "0"]})
    >>> spec, notes = infer_spec(df, "demo", "y")
    >>> spec["schema"]["columns"]["x"], spec["target"], spec["features"]["columns"]
    ({'dtype': 'float', 'min': 0.5, 'max': 4.5, 'nullable': True}, {'column': 'y', 'task': 'classification'}, ['x'])
    """
    from mlops_assets.spec import NAME_PATTERN, PREDICTION_LOG_COLUMNS

    if not re.match(NAME_PATTERN, name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
        raise InitError(f"project name '{name}' must be lower-case letters, digits and underscores, starting with a "
                        f"letter (e.g. '{suggestion or 'my_project'}')")
    if task not in (None, "classification", "regression"):
        raise InitError(f"task '{task}' must be classification or regression")
    df = df.rename(columns=str)
    if target not in df.columns:
        raise InitError(f"target '{target}' is not a column of {source_file} ({', '.join(df.columns)})")
    notes: list[str] = []
    sample = df.sample(n=sample_rows, random_state=0).sort_index() if len(df) > sample_rows else df
    if sample is not df:
        notes.append(f"column statistics come from a seeded sample of {sample_rows:,} of the {len(df):,} rows.")
    columns = _profile(sample)
    ident = _pick_id(columns, id_column, df)
    event = _pick_event_time(columns, event_time_column)
    if target in (ident, event):
        raise InitError(f"target '{target}' is also the {'id' if target == ident else 'event-time'} column: "
                        "name the other one with --id-column / --event-time-column")

    times = _parse_datetimes(df[event])
    if times.isna().any():
        raise InitError(f"event-time column '{event}' has {int(times.isna().sum())} empty or unparseable value(s) "
                        "outside the sample: every row needs an ISO 8601 event time")
    if getattr(times.dt, "tz", None) is not None:
        notes.append(f"event times in '{event}' carry a UTC offset: the platform reads naive UTC times; convert "
                     "them (e.g. 2026-01-31T12:00:00) before dropping files.")
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    day_counts = times.dt.date.value_counts().sort_index()

    specs: dict[str, dict] = {}
    features: list[str] = []
    skipped_text, skipped_times = [], []
    target_spec, target_section = _target_spec(columns[target], task, notes)
    for name_, col in columns.items():
        if name_ == ident:
            spec = {"dtype": "str", "unique": True}
        elif name_ == event:
            spec = {"dtype": "datetime"}
        elif name_ == target:
            spec = dict(target_spec)
        elif col.values.isna().all():
            spec = {"dtype": "str"}
            notes.append(f"{name_} is empty on every sampled row: declared a nullable str and left out of the "
                         "features; give it its real dtype once it holds values.")
        else:
            spec = _column_spec(col)
            if spec["dtype"] == "str":
                skipped_text.append(name_)
            elif spec["dtype"] == "datetime":
                skipped_times.append(name_)
            elif name_ in PREDICTION_LOG_COLUMNS:
                notes.append(f"{name_}: left out of the features, its name is one of the prediction log's own "
                             "columns; rename it in the CSV and the daily files to use it as an input.")
            else:
                features.append(name_)
        if col.values.isna().any() and name_ == target:
            notes.append(f"target '{target}' is empty on {int(col.values.isna().sum())} sampled row(s): it is "
                         "declared not nullable (training needs a label on every row), so a day with unlabelled "
                         "rows is blocked; leave those rows out of the daily files.")
        elif col.values.isna().any():
            spec["nullable"] = True
        specs[name_] = spec
    if not features:
        raise InitError(f"no feature columns left besides id '{ident}', event time '{event}' and target "
                        f"'{target}': the CSV needs at least one input column")

    shares = [float(columns[c].values.isna().mean()) for c in specs if specs[c].get("nullable")]
    null_share = max([v for v in shares if v < 1.0], default=0.0)  # an empty column says nothing about the rest
    max_null = max(0.05, math.ceil(round(null_share * 150, 6)) / 100)  # 1.5x the worst column, in whole percent
    rows_low, rows_high = int(day_counts.min()), int(day_counts.max())
    span_days = (day_counts.index[-1] - day_counts.index[0]).days + 1
    if span_days > len(day_counts):
        notes.append(f"the sample has no rows on {span_days - len(day_counts)} of the {span_days} days from "
                     f"{day_counts.index[0]} to {day_counts.index[-1]}: those days get no landing file, so their "
                     "ingestion fails until one is dropped (a training window must not span them).")
    spec_dict = {
        "name": name,
        "description": f"Inferred by `mlops-assets init` from {source_file}: review before relying on it.",
        "owner": "",
        "start_date": day_counts.index[0],
        "source": {"kind": "landing", "directory": f"landing/{name}",
                   "filename_template": f"{name}_{{date:%Y-%m-%d}}.csv"},
        "schema": {
            "id_column": ident,
            "event_time_column": event,
            "min_rows": 1,
            "expected_rows": [max(1, rows_low // 2), max(2, rows_high * 2)],
            "max_null_fraction": min(1.0, max_null),
            "columns": specs,
        },
        "target": target_section,
        "features": {"kind": "passthrough", "columns": features},
        "training": {**_window(span_days, notes), "estimator": "hist_gradient_boosting"},
        "evaluation": {"primary_metric": "roc_auc" if target_section["task"] == "classification" else "rmse",
                       "thresholds": {}},
    }
    _notes(spec_dict, notes, skipped_text, skipped_times, null_share, day_counts)
    return spec_dict, notes


def _notes(spec: dict, notes: list[str], text: list[str], times: list[str], null_share: float, days) -> None:
    schema, cols = spec["schema"], spec["schema"]["columns"]
    ranged = [c for c, s in cols.items() if "min" in s and c != spec["target"]["column"]]
    categorical = [c for c, s in cols.items() if s["dtype"] == "category" and c != spec["target"]["column"]]
    strict = [c for c, s in cols.items() if not s.get("nullable")]
    metric = spec["evaluation"]["primary_metric"]
    notes.insert(0, f"id column: '{schema['id_column']}' (unique in the sample; declared str); event time: "
                 f"'{schema['event_time_column']}' ({days.index[0]} .. {days.index[-1]}, {len(days)} days; "
                 f"start_date {spec['start_date']}).")
    if ranged:
        notes.append(f"ranges of {', '.join(ranged)} are the observed range widened by {RANGE_MARGIN:.0%} of its span "
                     "each side (floored at 0 where no value was negative): a value outside blocks its day's batch. "
                     "Review them against what the columns can really hold.")
    if categorical:
        notes.append(f"categories of {', '.join(categorical)} are the values seen in the sample: a value not "
                     "listed blocks its day's batch; add any category the sample missed.")
    if strict:
        notes.append(f"{len(strict)} column(s) had no nulls and are declared not nullable ({', '.join(strict[:8])}"
                     f"{', ...' if len(strict) > 8 else ''}): a null in them blocks the batch; mark any that may "
                     "be empty with nullable: true.")
    if null_share > 0.05:
        notes.append(f"schema.max_null_fraction is {schema['max_null_fraction']} (the sample's worst nullable "
                     f"column is {null_share:.0%} empty), so its daily warning stays quiet on data like this.")
    if text:
        notes.append(f"{', '.join(text)}: free text (over {MAX_CATEGORIES} distinct values or mostly unique), "
                     "declared str and left out of the features; add it to features.columns if it is a real input.")
    if times:
        notes.append(f"{', '.join(times)}: datetimes besides the event time, left out of the features (derive "
                     "numeric features from them, e.g. age in days, in the CSV or a dbt model).")
    notes.append(f"evaluation.thresholds is empty: any first model is promoted. Set a floor for {metric} (e.g. "
                 f"thresholds: {{{metric}: ...}}) once you know what is good enough.")
    notes.append(f"expected_rows {schema['expected_rows']} (half the smallest to twice the largest day seen) only "
                 "warns; min_rows 1 blocks an empty day.")


# ---------------------------------------------------------------- writing
class _Flow(dict):
    """A mapping written on one line ({dtype: int, min: 0})."""


class _FlowList(list):
    """A list written on one line ([a, b])."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(), flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def render_spec(spec: dict, notes: list[str]) -> str:
    """The spec as YAML (a column per line, as in projects/*.yaml), the notes as a comment block on top."""
    data = dict(spec)
    schema = dict(data["schema"])
    schema["expected_rows"] = _FlowList(schema["expected_rows"])
    schema["columns"] = {c: _Flow({k: _FlowList(v) if isinstance(v, list) else v for k, v in s.items()})
                         for c, s in schema["columns"].items()}
    data["schema"] = schema
    data["features"] = {**data["features"], "columns": _FlowList(data["features"]["columns"])}
    header = ["# Generated by `mlops-assets init`. Review before use:"]
    header += ["#   - " + n for n in notes]
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
    return "\n".join(header) + "\n" + body


def write_spec(spec: dict, notes: list[str], projects_dir: Path | str, force: bool = False) -> Path:
    """Validate `spec`, write it as ``<projects_dir>/<name>.yaml`` and load it back with
    :func:`mlops_assets.spec.load_spec`. An existing file is kept (:class:`InitError`) unless `force`."""
    from mlops_assets.spec import SpecError, load_spec, parse_spec

    path = Path(projects_dir) / f"{spec['name']}.yaml"
    if path.exists() and not force:
        raise InitError(f"{path} exists: pass --force to overwrite it, or choose another project name")
    text = render_spec(spec, notes)
    try:
        parse_spec(yaml.safe_load(text), path)
    except SpecError as err:  # an inference bug: say so rather than write a spec that does not load
        raise InitError(f"the inferred spec does not validate (a bug in init; please report it):\n{err}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    load_spec(path)
    return path


def split_landing(df: pd.DataFrame, spec: ProjectSpec, directory: Path, force: bool = False) -> list[Path]:
    """Write the rows of `df` (as read by :func:`read_csv_text`) as one landing file per event-time day, named by
    the spec's template, into `directory`; the cells are written as the CSV spells them. Existing files are kept
    (:class:`InitError`) unless `force`."""
    from mlops_assets.data.sources import landing_file, write_landing_file

    event = spec.schema_.event_time_column
    if event not in df.columns:
        raise InitError(f"the CSV has no column '{event}' (the spec's event_time_column) to split its rows by day")
    times = _parse_datetimes(df[event])
    if times.isna().any():
        raise InitError(f"{int(times.isna().sum())} row(s) have no parseable event time in '{event}'")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    days = times.dt.date
    existing = [p for p in (landing_file(spec.source, directory, d) for d in sorted(set(days))) if p.exists()]
    if existing and not force:
        raise InitError(f"{len(existing)} landing file(s) exist already (e.g. {existing[0]}): pass --force to "
                        "overwrite them")
    return [write_landing_file(spec.source, directory, day, rows.reset_index(drop=True))
            for day, rows in df.groupby(days, sort=True)]


def landing_days(df: pd.DataFrame, event_time_column: str) -> list[date]:
    """The event-time days of the rows (what :func:`split_landing` writes a file for)."""
    times = _parse_datetimes(df[event_time_column])
    return sorted(set(times.dropna().dt.date))
