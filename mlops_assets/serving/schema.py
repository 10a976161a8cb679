"""The request and response models of one project's server, generated from its spec with pydantic.

One pydantic field per spec column (type, range, categories, nullability): :class:`RequestModels` builds the
raw record (what ``/predict`` and ``/invocations`` take), the model's feature record (what ``mlflow models
serve`` takes, for a project whose features are computed), every route's request body and answer, and the
OpenAPI document is their JSON schema (:mod:`mlops_assets.serving.openapi`). Value checks of raw records are
:class:`~mlops_assets.serving.contract.Contract`'s; both read the same spec columns.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal, Optional, Union

import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from mlops_assets.labels import binary_labels
from mlops_assets.spec import ColumnSpec, DbtFeatures, ProjectSpec

INT64 = (-(2**63), 2**63 - 1)
FLOAT_MAX = sys.float_info.max

#: pandas dtype kind of a computed feature -> spec dtype.
_KIND_DTYPE = {"i": "int", "u": "int", "f": "float", "b": "bool", "O": "str"}


def _integral(v: object) -> object:
    """JSON integers, and floats with no fraction (3.0), within int64: like the contract."""
    if type(v) is float and v.is_integer() and abs(v) < 2**63:
        return int(v)
    if type(v) is not int:
        raise ValueError(f"must be an integer, got {type(v).__name__}")
    return v


def _number(v: object) -> object:
    if type(v) not in (int, float):
        raise ValueError(f"must be a number, got {type(v).__name__}")
    if type(v) is int and abs(v) > FLOAT_MAX:
        raise ValueError("must be a finite number")
    return float(v)


def _iso_datetime(v: object) -> object:
    if type(v) is not str:
        raise ValueError(f"must be an ISO-8601 date-time string, got {type(v).__name__}")
    try:
        pd.to_datetime(v, utc=True, format="ISO8601")
    except (ValueError, OverflowError):
        raise ValueError("must be an ISO-8601 date-time string") from None
    return v


def _bound(x: float | None, dtype: str) -> float | int | None:
    if x is None:
        return None
    return int(x) if dtype == "int" and float(x).is_integer() else x


def column_type(col: ColumnSpec) -> Any:
    """The pydantic type of one spec column: a JSON value of its dtype, in range or category, null if nullable."""
    lo, hi = _bound(col.min, col.dtype), _bound(col.max, col.dtype)
    desc = {"description": col.description} if col.description else {}
    if col.dtype == "int":
        t: Any = Annotated[int, Field(ge=INT64[0] if lo is None else max(lo, INT64[0]),
                                      le=INT64[1] if hi is None else min(hi, INT64[1]), **desc),
                           BeforeValidator(_integral)]
    elif col.dtype == "float":
        t = Annotated[float, Field(ge=-FLOAT_MAX if lo is None else lo, le=FLOAT_MAX if hi is None else hi,
                                   allow_inf_nan=False, **desc), BeforeValidator(_number)]
    elif col.dtype == "bool":
        t = Annotated[bool, Field(strict=True, **desc)]
    elif col.categories is not None:
        t = Annotated[Literal[tuple(col.categories)], Field(**desc)]  # type: ignore[misc]
    elif col.dtype == "datetime":
        t = Annotated[str, Field(json_schema_extra={"format": "date-time"}, **desc), BeforeValidator(_iso_datetime)]
    else:
        t = Annotated[str, Field(strict=True, **desc)]
    return Optional[t] if col.nullable else t


def record_model(name: str, columns: dict[str, ColumnSpec], doc: str) -> type[BaseModel]:
    """A pydantic model with one required field per column; unknown fields are allowed (and ignored)."""
    fields = {c: (column_type(col), ...) for c, col in columns.items()}
    model = create_model(name, __config__=ConfigDict(extra="allow"), __doc__=doc, **fields)
    return model


def feature_columns(spec: ProjectSpec, contract) -> dict[str, ColumnSpec]:
    """The model's feature columns as spec columns: a feature named like a raw column has that column's rules;
    a computed one (dbt features) the dtype the feature code gives it on valid records, not null."""
    cols = spec.schema_.columns
    names = list(spec.features.columns)
    if not isinstance(spec.features, DbtFeatures):
        return {c: cols[c] for c in names}
    checked = contract.validate(pd.DataFrame([contract.example_record(), *contract.sample_records()]))
    feats = contract.features(checked.raw)
    out = {}
    for c in names:
        if c in cols:
            out[c] = cols[c]
        else:
            out[c] = ColumnSpec(dtype=_KIND_DTYPE.get(feats[c].dtype.kind, "str"))
    return out


def _problems(err: ValidationError) -> list[dict]:
    out = []
    for e in err.errors(include_url=False, include_input=False):
        loc = list(e["loc"])
        record = loc[0] if loc and isinstance(loc[0], int) else None
        field = next((x for x in loc[1:] if isinstance(x, str)), None) if record is not None else None
        out.append({"record": record, "field": field, "error": e["msg"].removeprefix("Value error, ")})
    return out


Problem = create_model("Problem", __doc__="One invalid value: the record (index), the field and what is wrong",
                       record=(Optional[int], ...), field=(Optional[str], ...), error=(str, ...))


class MlflowError(BaseModel):
    """MLflow's error body (``mlflow models serve``): ``error_code`` and ``message``; contract problems listed."""

    model_config = ConfigDict(extra="allow")
    error_code: str
    message: str
    error_class: Optional[str] = None
    problems: Optional[list[Problem]] = None  # type: ignore[valid-type]
    error_count: Optional[int] = None


class Error(BaseModel):
    """The error body of the other routes: ``detail`` is a message or a list of problems."""

    model_config = ConfigDict(extra="allow")
    detail: Union[str, list[Problem]]  # type: ignore[valid-type]
    error_count: Optional[int] = None


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    project: str
    model_uri: str
    model_version: str
    alias: Optional[str]
    data_version: Optional[str]


class RequestModels:
    """Every body the server of ``spec`` takes and gives, as pydantic models built from the spec's columns."""

    def __init__(self, spec: ProjectSpec, contract, max_records: int = 10_000):
        self.spec = spec
        self.max_records = max_records
        self.record = record_model("Record", contract.columns,
                                   f"One raw record of '{spec.name}': the fields its features are computed from")
        self.raw_fields = list(contract.columns)
        self.example = contract.example_record()
        self._raw_columns = dict(contract.columns)
        self.feature_columns = feature_columns(spec, contract)
        self.computed = list(self.feature_columns) != self.raw_fields  # features differ from the raw fields
        self.features = record_model("FeatureRecord", self.feature_columns,
                                     f"One feature row of '{spec.name}': the model signature's columns "
                                     "(what `mlflow models serve` takes)")
        self._feature_rows = TypeAdapter(list[self.features])  # type: ignore[name-defined]
        many = {"min_length": 1, "max_length": max_records}
        Records = Annotated[list[self.record], Field(**many)]  # type: ignore[name-defined]
        rows: Any = Records
        if self.computed:
            FeatureRows = Annotated[list[self.features], Field(**many)]  # type: ignore[name-defined]
            rows = Union[Records, FeatureRows]
        self.predict_request = create_model(
            "PredictRequest", __config__=ConfigDict(extra="allow"), records=(Records, ...),
            __doc__="Raw records to score; fields outside the schema are ignored and named in `warnings`")
        params = (Optional[dict[str, Any]], Field(None, description="accepted and ignored (the model takes none)"))
        strict = ConfigDict(extra="forbid")
        split_row = self._split_row()
        kinds = [
            create_model("DataframeRecords", __config__=strict, dataframe_records=(rows, ...), params=params),
            create_model("DataframeSplit", __config__=strict, params=params, dataframe_split=(create_model(
                "Split", __config__=strict,
                columns=(tuple[tuple(Literal[c] for c in self.raw_fields)], ...),  # type: ignore[misc]
                data=(Annotated[list[split_row], Field(**many)], ...),
                index=(Optional[list[Union[int, str]]], None),
                __doc__="pandas' split orient; the server takes the columns in any order"), ...)),
            create_model("Instances", __config__=strict, instances=(rows, ...), params=params),
            create_model("Inputs", __config__=strict, inputs=(rows, ...), params=params),
        ]
        self.invocations_request = Annotated[Union[tuple(kinds)], Field(
            description="The MLflow scoring protocol: exactly one of dataframe_records, dataframe_split, instances, "
                        "inputs (records; instances and inputs also as an object of equal-length column lists), "
                        "plus optional params. Records carry the raw fields or, for computed features, the model "
                        "signature's feature columns (the `x-input-kind` response header says which)")]
        label = column_type(spec.schema_.columns[spec.target.column])
        self.feedback_request = create_model(
            "FeedbackRequest", __config__=ConfigDict(extra="allow"),
            request_id=(Annotated[str, Field(min_length=1)], ...), label=(label, ...),
            row=(Annotated[int, Field(ge=0, le=max_records - 1)], 0),
            __doc__="The true label of row `row` of a scored request")
        self.admin_load_request = create_model(
            "AdminLoadRequest", __config__=ConfigDict(extra="allow"),
            model_uri=(Annotated[str, Field(min_length=1)], ...),
            mode=(Literal["blue_green", "canary", "shadow"], "blue_green"),
            weight=(Optional[Annotated[float, Field(ge=0, le=1)]], None),
            version=(Optional[str], None), alias=(Optional[str], None), data_version=(Optional[str], None))
        labels = binary_labels(spec)
        # /predict answers a classifier's label as the feed spells it; /invocations what the logged model's pyfunc
        # returns, its class code (1 = the positive class; see mlops_assets.labels).
        pred: Any = float if labels is None else Annotated[Literal[labels.classes], Field(  # type: ignore[valid-type]
            description=f"the predicted class of target '{labels.column}' (positive: {labels.positive!r})")]
        code: Any = float if labels is None else Annotated[Literal[0, 1], Field(
            description=f"the predicted class code: 1 = {labels.positive!r}, 0 = {labels.negative!r}")]
        item = create_model("Prediction", prediction=(pred, ...),
                            **({"probability": (float, Field(description="the probability of the positive class"))}
                               if labels is not None else {}))
        self.predict_response = create_model(
            "PredictResponse", __config__=ConfigDict(extra="allow"), request_id=(str, ...), model_version=(str, ...),
            role=(str, ...), predictions=(list[item], ...), warnings=(list[str], ...))  # type: ignore[valid-type]
        self.invocations_response = create_model(
            "InvocationsResponse", __config__=ConfigDict(extra="allow"), predictions=(list[code], ...),
            __doc__="MLflow's answer: one prediction per row")
        self.mlflow_error = MlflowError
        self.error = Error
        self.model_info = ModelInfo

    def _split_row(self) -> Any:
        """A ``dataframe_split`` row: one value per column, in the canonical column order (the server takes the
        columns in any order; values are checked per column by the contract)."""
        return tuple[tuple(column_type(c) for c in self._raw_columns.values())]  # type: ignore[misc]

    def validate_features(self, rows: list[dict]) -> tuple[pd.DataFrame, list[str]]:
        """Feature records checked against the feature model -> (a frame of the feature columns, warnings);
        raises :class:`FeatureError` listing ``{record, field, error}``."""
        try:
            checked = self._feature_rows.validate_python(rows)
        except ValidationError as err:
            raise FeatureError(_problems(err)) from None
        names = list(self.feature_columns)
        data = {c: [getattr(r, c) for r in checked] for c in names}
        frame = pd.DataFrame(data, columns=names)
        for c, col in self.feature_columns.items():
            if col.dtype == "int" and not col.nullable:
                frame[c] = frame[c].astype("int64")
            elif col.dtype == "float":
                frame[c] = frame[c].astype("float64")
            elif col.dtype == "bool" and not col.nullable:
                frame[c] = frame[c].astype(bool)
        extra = sorted({str(k) for r in rows for k in r if k not in self.feature_columns})
        more = f" and {len(extra) - 20} more" if len(extra) > 20 else ""
        return frame, ([f"ignored unknown fields: {extra[:20]}{more}"] if extra else [])


class FeatureError(ValueError):
    def __init__(self, problems: list[dict]):
        self.problems = problems[:100]
        self.total = len(problems)
        super().__init__("; ".join(f"record {p['record']} field '{p['field']}': {p['error']}" for p in problems[:3]))
