"""The model-project YAML spec: a pydantic model, loaded and validated with errors naming file and field."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DType = Literal["int", "float", "str", "bool", "category", "datetime"]
NUMERIC_DTYPES = ("int", "float")
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


#: the prediction log's own columns (mlops_assets.serving.predlog): no model input may be named like one
PREDICTION_LOG_COLUMNS = ("request_id", "row", "time", "project", "model_version", "role", "prediction", "score",
                          "data_version", "feature_hash")


class SpecError(ValueError):
    """A project spec that cannot be loaded; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- raw schema
class ColumnSpec(_Strict):
    dtype: DType = Field(description="the column's type; each batch is coerced to it and fails validation if it cannot be")
    nullable: bool = Field(False, description="nulls allowed (a null in a non-nullable column blocks the batch)")
    min: float | None = Field(None, description="int/float: values below this block the batch")
    max: float | None = Field(None, description="int/float: values above this block the batch")
    categories: list[str] | None = Field(
        None, description="category (required) or str: the allowed values; quote yes/no/true/false/on/off")
    unique: bool = Field(False, description="no value may repeat within a batch (e.g. an id)")
    description: str = Field("", description="what the column means; shown as dbt/Dagster column metadata")

    @model_validator(mode="before")
    @classmethod
    def _quoted_categories(cls, data: object) -> object:
        cats = data.get("categories") if isinstance(data, dict) else None
        if isinstance(cats, list) and any(isinstance(c, bool) for c in cats):
            raise ValueError("categories must be strings, but YAML read unquoted yes/no/true/false/on/off among "
                             "them as booleans: quote them, e.g. categories: [\"no\", \"yes\"]")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "ColumnSpec":
        if self.dtype == "category" and not self.categories:
            raise ValueError("a 'category' column needs a non-empty 'categories' list")
        if self.categories is not None and self.dtype not in ("category", "str"):
            raise ValueError(f"'categories' only applies to category/str columns, not dtype '{self.dtype}'")
        if (self.min is not None or self.max is not None) and self.dtype not in NUMERIC_DTYPES:
            raise ValueError(f"'min'/'max' only apply to int/float columns, not dtype '{self.dtype}'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class SchemaSpec(_Strict):
    columns: dict[str, ColumnSpec] = Field(description="every column of a raw batch, by name")
    id_column: str = Field(description="the column identifying a row (an entity or event id); one of columns")
    event_time_column: str = Field(
        description="the datetime column a row's day partition and the train/holdout split are taken from")
    min_rows: int = Field(1, ge=1, description="fewer rows than this blocks the batch")
    expected_rows: tuple[int, int] | None = Field(
        None, description="[low, high] row count outside which a warning is raised"
    )
    max_null_fraction: float = Field(0.05, ge=0, le=1, description="warn above this per nullable column")

    @model_validator(mode="after")
    def _columns_known(self) -> "SchemaSpec":
        if not self.columns:
            raise ValueError("'columns' must declare at least one column")
        for label, col in (("id_column", self.id_column), ("event_time_column", self.event_time_column)):
            if col not in self.columns:
                raise ValueError(f"{label} '{col}' is not among columns ({', '.join(self.columns)})")
        if self.columns[self.event_time_column].dtype != "datetime":
            raise ValueError(f"event_time_column '{self.event_time_column}' must have dtype 'datetime'")
        return self

    def bounds(self) -> dict[str, tuple[float, float]]:
        """The ``(min, max)`` of every int/float column that declares both (what a drifted value is clipped to)."""
        return {name: (c.min, c.max) for name, c in self.columns.items()
                if c.dtype in ("int", "float") and c.min is not None and c.max is not None}


# ---------------------------------------------------------------- sources
class NumericShift(_Strict):
    mean_shift: float = Field(0.0, description="shift of the mean, in standard deviations of the column")
    scale: float = Field(1.0, gt=0, description="multiplies the spread around the mean")


class DriftWindow(_Strict):
    """A change of the generated data from `start` (inclusive) until `end` (inclusive, open if None)."""

    start: date = Field(description="first generated day the change applies to")
    end: date | None = Field(None, description="last day it applies to (inclusive); none: open-ended")
    covariate: dict[str, NumericShift] = Field(
        default_factory=dict, description="numeric column -> shift of its mean and spread")
    category_mix: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="categorical column -> new category weights (normalised)")
    label_rate: float | None = Field(None, gt=0, lt=1, description="prior shift: the positive-label rate")
    concept: float = Field(0.0, ge=0, le=1, description="0 = base label relationship, 1 = fully changed")

    def active_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class GeneratorSource(_Strict):
    kind: Literal["generator"] = Field(description="'generator': rows come from a built-in seeded generator")
    generator: Literal["churn", "housing"] = Field(description="which built-in generator")
    seed: int = Field(0, description="base seed; each day's rows are seeded from it and the date (reproducible)")
    rows_per_day: int = Field(2000, ge=0, description="rows generated per daily partition")
    drift: list[DriftWindow] = Field(
        default_factory=list, description="changes of the generated data over date windows (demos and tests)")


class LandingSource(_Strict):
    kind: Literal["landing"] = Field(description="'landing': rows come from one CSV or Parquet file per day")
    directory: str = Field(description="absolute, or relative to the platform data directory")
    filename_template: str = Field(description="str.format template with {date}, e.g. 'sales_{date:%Y-%m-%d}.csv'")

    @property
    def format(self) -> str:
        return "parquet" if self.filename_template.endswith(".parquet") else "csv"

    @model_validator(mode="after")
    def _template(self) -> "LandingSource":
        if "{date" not in self.filename_template:
            raise ValueError("filename_template must contain a '{date...}' field, e.g. 'x_{date:%Y-%m-%d}.csv'")
        if not re.search(r"\.(csv|parquet)$", self.filename_template):
            raise ValueError("filename_template must end in .csv or .parquet")
        return self


Source = Annotated[Union[GeneratorSource, LandingSource], Field(discriminator="kind")]


# ---------------------------------------------------------------- target and features
class TargetSpec(_Strict):
    column: str = Field(description="the column to predict; one of schema.columns")
    task: Literal["classification", "regression"] = Field(
        description="classification (a two-class target) or regression (an int/float target)")
    positive_class: bool | int | float | str | None = Field(
        None,
        description=(
            "classification: the label value that is the positive class (encoded 1, scored as the probability). "
            "Default: true for a bool target, 1 for a 0/1 int/float target; required for a str/category target "
            "(two declared categories)"
        ),
    )


def binary_classes(target: TargetSpec, column: ColumnSpec) -> tuple:
    """(negative, positive) class of a classification target, as the feed spells them.

    Raises ``ValueError`` saying what to declare when the classes are not two known values (multi-class targets
    are not supported) or the positive class is missing, unknown or not obvious.

    >>> binary_classes(TargetSpec(column="y", task="classification"), ColumnSpec(dtype="bool"))
    (False, True)
    >>> binary_classes(TargetSpec(column="y", task="classification", positive_class="yes"),
    ...                ColumnSpec(dtype="category", categories=["no", "yes"]))
    ('no', 'yes')
    """
    name, given, dtype = target.column, target.positive_class, column.dtype
    where = f"target.column '{name}'"
    if dtype == "bool":
        if given is None:
            return False, True
        if type(given) is not bool:
            raise ValueError(f"target.positive_class {given!r} is not a value of the bool {where}: use true or false")
        return (not given), given
    if dtype in NUMERIC_DTYPES:
        lo, hi = column.min, column.max
        if (lo is not None and lo not in (0, 1)) or (hi is not None and hi not in (0, 1)):
            raise ValueError(
                f"{where} of a classification task must hold the two classes 0 and 1 (declare min: 0, max: 1), "
                f"but schema.columns.{name} allows [{lo}, {hi}]; multi-class targets are not supported: map the "
                "target to two classes upstream"
            )
        cast = int if dtype == "int" else float
        if given is None:
            return cast(0), cast(1)
        if type(given) is bool or type(given) not in (int, float) or given not in (0, 1):
            raise ValueError(f"target.positive_class {given!r} is not a class of the 0/1 {where}: use 1 (or 0)")
        return cast(1 - given), cast(given)
    if dtype not in ("str", "category"):
        raise ValueError(f"{where} has dtype '{dtype}': a classification target must be bool, int/float 0/1, "
                         "or a str/category column with two categories")
    classes = list(dict.fromkeys(column.categories or []))
    if not classes:
        raise ValueError(f"{where} is a str column without categories: declare its two classes "
                         f"(schema.columns.{name}.categories: [...]) and which is positive (target.positive_class)")
    if len(classes) != 2:
        raise ValueError(
            f"{where} has {len(classes)} classes {classes}: only binary classification is supported (two "
            "categories); multi-class targets are not: map the target to two classes upstream"
        )
    if isinstance(given, bool):  # YAML reads an unquoted yes/no/true/false/on/off as a boolean
        spelled = [c for c in classes if yaml.safe_load(c) is given]
        if len(spelled) != 1:
            raise ValueError(f"target.positive_class was read as the boolean {str(given).lower()} (YAML reads "
                             f"unquoted yes/no/true/false/on/off so): quote it, one of {classes}")
        given = spelled[0]
    if given is None:
        raise ValueError(f"target.positive_class is required for the {dtype} {where}: set it to the class that "
                         f"is positive, one of {classes} (e.g. positive_class: \"{classes[1]}\")")
    if given not in classes:
        raise ValueError(f"target.positive_class {given!r} is not one of the classes {classes} of {where}")
    return next(c for c in classes if c != given), given


class DbtFeatures(_Strict):
    kind: Literal["dbt"] = Field(description="'dbt': features built by a dbt model on DuckDB")
    model: str = Field(description="name of the dbt model that builds this project's features")
    columns: list[str] = Field(description="feature columns the model produces (the model's input)")


class PassthroughFeatures(_Strict):
    kind: Literal["passthrough"] = Field(description="'passthrough': features are validated columns as they are")
    columns: list[str] = Field(description="the validated columns the model takes as input")


Features = Annotated[Union[DbtFeatures, PassthroughFeatures], Field(discriminator="kind")]


# ---------------------------------------------------------------- later stages (filled by later issues)
class TrainingSpec(_Strict):
    window_days: int = Field(28, ge=1, description="days of feature partitions the model is fitted on")
    holdout_days: int = Field(
        7, ge=1, description="the newest days after the training window, held out for evaluation (by event time)")
    estimator: str = Field("hist_gradient_boosting", description="a name from the estimator allow-list")
    params: dict[str, float | int | str | bool | None] = Field(
        default_factory=dict, description="the estimator's hyperparameters (names checked against scikit-learn's)")
    seed: int = Field(0, description="random_state of the estimator and of every random choice in training")
    segment_columns: list[str] = Field(
        default_factory=list, description="columns the evaluation report slices metrics by (max_slice_gap)")
    include_labeled_traffic: bool = Field(
        False,
        description="add <project>/labeled_traffic (served rows joined to their /feedback labels) to the training set",
    )


class EvaluationSpec(_Strict):
    primary_metric: str | None = Field(
        None, description="the metric champion and challenger are compared on (default: roc_auc / rmse by task)")
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="metric -> bound the challenger must meet on the holdout "
        "(a minimum, or a maximum for error metrics such as rmse)")
    tolerance: float = Field(0.01, description="non_inferior: how much worse than the champion still counts as "
                             "not worse, in units of the primary metric")
    max_slice_gap: float | None = Field(
        None, description="largest allowed gap of the primary metric between segment slices; none: not checked")
    promotion: Literal["auto", "manual"] = Field(
        "auto", description="auto: a challenger passing every gate becomes champion; manual: a person promotes "
        "from the UI")
    promotion_rule: Literal["non_inferior", "superior"] = Field(
        "non_inferior",
        description=(
            "non_inferior: the CI of challenger - champion lies above -tolerance and not entirely below zero; "
            "superior: the CI lies entirely above zero"
        ),
    )


class DeploymentSpec(_Strict):
    strategy: Literal["blue_green", "canary", "shadow"] = Field(
        "blue_green", description="how a new champion goes live: swap after a warm-up, a share of the traffic, "
        "or scoring in the background only")
    port: int | None = Field(None, description="the model server's port on 127.0.0.1; none: one is chosen and kept")
    canary_weight: float = Field(0.1, ge=0, le=1, description="canary: the share of requests the challenger answers")


class MonitoringSpec(_Strict):
    max_model_age_days: int = Field(14, description="the champion is stale (freshness policy) when older than this")
    effect_size_floor: float = Field(
        0.1, ge=0,
        description="a continuous feature drifts only if its distribution moved more than this many reference "
                    "standard deviations (Wasserstein distance / std, noise removed), e.g. 0.1: a mean shift of "
                    "0.25 sd drifts, one of 0.05 sd does not",
    )
    moved_mass_floor: float = Field(
        0.04, ge=0, lt=1,
        description="a categorical or discrete feature drifts only if more than this share of its mass moved "
                    "(total variation distance, noise removed; unseen categories, values off the reference ones "
                    "and new nulls count as moved), and a continuous one also if more than this share of it lies "
                    "outside the reference range, e.g. 0.04: 10% of rows switching category drifts, 2% does not",
    )
    persistence: tuple[int, int] = Field(
        (2, 3), description="[k, m]: drift is confirmed when k of the last m windows drifted")
    window_rows: int = Field(1000, ge=50, description="live predictions per drift window (>= ~1k keeps the floor above noise)")
    cooldown_hours: float = Field(24.0, ge=0, description="no new sensor-triggered retrain this long after one")
    max_retrains_per_day: int = Field(2, ge=0, description="cap on sensor-triggered retrains in any 24 hours")
    performance_tolerance: float = Field(
        0.05, ge=0, description="decay when the live metric is worse than the holdout figure by more than this fraction of it"
    )
    min_feedback: int = Field(500, ge=20, description="labelled predictions per performance window")
    feedback_lookback_days: int = Field(7, ge=0, description="how many days before a label its prediction may be")
    reference_days: int | None = Field(
        None, ge=1,
        description="newest days of the champion's training window its reference profile is built from "
                    "(default: training.holdout_days)",
    )
    sensor_interval_seconds: int = Field(60, ge=1, description="how often the monitoring sensors tick")

    @model_validator(mode="after")
    def _persistence(self) -> "MonitoringSpec":
        k, m = self.persistence
        if not 1 <= k <= m:
            raise ValueError(f"persistence [k, m] needs 1 <= k <= m (drift in k of the last m windows), got [{k}, {m}]")
        return self


# ---------------------------------------------------------------- the project
class ProjectSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN, description="the project's name: the spec's file name and the prefix "
                      "of its asset keys, jobs and sensors (lower case, digits, underscores)")
    description: str = Field("", description="one sentence shown on the project's assets")
    owner: str = Field("", description="team or person responsible (asset owner)")
    start_date: date = Field(description="first daily partition")
    end_date: date | None = Field(None, description="last daily partition; none: up to yesterday (UTC)")
    source: Source = Field(description="where raw rows come from: a built-in generator or a landing directory")
    schema_: SchemaSpec = Field(alias="schema", description="the raw batch's columns and the checks that block a bad one")
    target: TargetSpec = Field(description="what the model predicts")
    features: Features = Field(description="how model inputs are built from validated data: dbt or passthrough")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="the training window and estimator")
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec,
                                       description="the gates a challenger must pass to become champion")
    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec, description="how the champion is served")
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec,
                                       description="drift and performance monitoring and automatic retraining")

    @model_validator(mode="after")
    def _cross_checks(self) -> "ProjectSpec":
        cols = self.schema_.columns
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        if self.target.column not in cols:
            raise ValueError(f"target.column '{self.target.column}' is not among schema.columns ({', '.join(cols)})")
        if self.target.task == "regression" and cols[self.target.column].dtype not in NUMERIC_DTYPES:
            raise ValueError(f"target.column '{self.target.column}' of a regression task must be int or float")
        if self.target.task == "classification":
            binary_classes(self.target, cols[self.target.column])
        elif self.target.positive_class is not None:
            raise ValueError("target.positive_class applies to classification targets only: remove it")
        if isinstance(self.features, PassthroughFeatures):
            reserved = [c for c in self.features.columns if c in PREDICTION_LOG_COLUMNS]
            if reserved:
                raise ValueError(f"features.columns: {reserved} are named like the prediction log's own columns "
                                 f"{list(PREDICTION_LOG_COLUMNS)}, so the model could not be served: rename them "
                                 "in the feed (and schema.columns), or leave them out of features.columns")
            unknown = [c for c in self.features.columns if c not in cols]
            if unknown:
                raise ValueError(f"features.columns {unknown} are not among schema.columns")
        unknown_segments = [c for c in self.training.segment_columns if c not in cols]
        if unknown_segments:
            raise ValueError(f"training.segment_columns {unknown_segments} are not among schema.columns")
        if self.target.column in self.features.columns:
            raise ValueError(f"features.columns must not contain the target '{self.target.column}'")
        if isinstance(self.source, GeneratorSource):
            for i, window in enumerate(self.source.drift):
                for col in window.covariate:
                    if col not in cols or cols[col].dtype not in NUMERIC_DTYPES:
                        raise ValueError(f"source.drift[{i}].covariate: '{col}' is not a numeric column")
                for col in window.category_mix:
                    if col not in cols or cols[col].dtype != "category":
                        raise ValueError(f"source.drift[{i}].category_mix: '{col}' is not a category column")
        return self

    @model_validator(mode="after")
    def _known_names(self) -> "ProjectSpec":
        """Names that would otherwise fail only when a run reaches them: the estimator and its parameters (against
        the estimator's own constructor, from a table a test keeps equal to scikit-learn's), and metric names."""
        from mlops_assets.evaluation.metrics import METRICS
        from mlops_assets.training.estimator_params import PARAMS
        from mlops_assets.training.estimators import ESTIMATORS

        task, training = self.target.task, self.training
        for_task = sorted(n for n, by_task in ESTIMATORS.items() if task in by_task)
        by_task = ESTIMATORS.get(training.estimator)
        if by_task is None or task not in by_task:
            what = "unknown estimator" if by_task is None else f"estimator that does not support {task}:"
            raise ValueError(f"training.estimator: {what} '{training.estimator}'; for {task} choose one of {for_task}")
        allowed = PARAMS[by_task[task]]
        for name in training.params:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ValueError(f"training.params.{name}: not a parameter of {by_task[task].rpartition('.')[2]} "
                                 f"(estimator '{training.estimator}'); {hint}its parameters: {', '.join(allowed)}")
        known = sorted(n for n, m in METRICS.items() if m.task == task)
        evaluation = self.evaluation
        if evaluation.primary_metric is not None and evaluation.primary_metric not in known:
            raise ValueError(f"evaluation.primary_metric: unknown {task} metric '{evaluation.primary_metric}'; "
                             f"choose one of {known}")
        for name in evaluation.thresholds:
            if name not in known:
                raise ValueError(f"evaluation.thresholds.{name}: unknown {task} metric '{name}'; choose one of {known}")
        return self

    @property
    def schema(self) -> SchemaSpec:  # type: ignore[override]
        return self.schema_

    def spec_hash(self) -> str:
        """A stable hash of the validated spec (recorded on models so runs are traceable to it)."""
        payload = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- loading
#: a cross-field message that starts with the dotted path of the field it concerns ("training.params.foo: ...")
_LEADING_FIELD = re.compile(r"^((?:%s)(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*):?\s")


def yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key and sequence item in a YAML document, by its path of keys/indexes."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                lines[here] = key.start_mark.line + 1
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, str(i))] = item.start_mark.line + 1
                walk(item, (*path, str(i)))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        lines[()] = root.start_mark.line + 1
        walk(root, ())
    return lines


def _line_of(field: str, lines: dict[tuple[str, ...], int]) -> int | None:
    """The line of `field` (dotted, [i] or .i for items), else of its nearest ancestor present in the file."""
    parts = tuple(p for p in re.split(r"[.\[\]]+", field) if p)
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return None


def _format_error(path: Path, err: ValidationError, lines: dict[tuple[str, ...], int]) -> str:
    leading = _LEADING_FIELD.pattern % "|".join(
        re.escape(f.alias or n) for n, f in ProjectSpec.model_fields.items())
    out = [f"Invalid model-project spec {path}:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"] if not str(p).startswith(("function-after", "tagged-union")))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling against the spec reference in README.md)"
        if not field and (m := re.match(leading, msg)):  # a cross-field check that names its field
            field, msg = m.group(1), msg[m.end():]
        # the YAML source of the value (a discriminated source's tag is not in the file)
        # the discriminated source's tag (source.generator.rows_per_day) is not a key of the file
        in_file = re.sub(r"^source\.(generator|landing)(?=\.|$)", "source", field)
        line = _line_of(in_file, lines) if field else lines.get(())
        where = f"{path}:{line}" if line else str(path)
        out.append(f"  {where}: field '{field or '<root>'}': {msg}")
    return "\n".join(out)


def parse_spec(data: object, path: Path | str = "<memory>", lines: dict[tuple[str, ...], int] | None = None) -> ProjectSpec:
    """Validate an already-parsed YAML mapping; raise SpecError naming `path`, the line (when `lines` has it:
    see `yaml_lines`) and the field."""
    path = Path(path)
    if not isinstance(data, dict):
        raise SpecError(f"Invalid model-project spec {path}: the top level must be a mapping of fields")
    try:
        return ProjectSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(_format_error(path, err, lines or {})) from None


def load_spec(path: Path | str) -> ProjectSpec:
    """Load and validate one spec file."""
    path = Path(path)
    try:
        text = path.read_text()
        data = yaml.safe_load(text)
    except OSError as err:
        raise SpecError(f"Cannot read model-project spec {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise SpecError(f"Invalid YAML in model-project spec {path}: {err}") from None
    lines = yaml_lines(text)
    spec = parse_spec(data, path, lines)
    if spec.name != path.stem:
        raise SpecError(f"Invalid model-project spec {path}:\n  {path}:{lines.get(('name',), 1)}: field 'name': "
                        f"'{spec.name}' must match the file name")
    return spec


def load_specs(directory: Path | str) -> list[ProjectSpec]:
    """Load every `*.yaml` spec in `directory`, sorted by name."""
    directory = Path(directory)
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise SpecError(f"No model-project specs (*.yaml) found in {directory}; set MLOPS_PROJECTS_DIR or add one")
    return [load_spec(f) for f in files]
