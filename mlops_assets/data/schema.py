"""pandera schemas generated from a project's raw schema, and validation grouped into named checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from mlops_assets.spec import ColumnSpec, SchemaSpec

if TYPE_CHECKING:
    import pandera.pandas as pa

# pandera is imported when a batch is validated, not at module import (start-up time).

#: Blocking checks: a failure stops the batch from going downstream. name -> description.
BLOCKING_CHECKS: dict[str, str] = {
    "columns_present": "every column declared in the spec is present",
    "dtypes": "every value can be read as its column's declared dtype",
    "value_ranges": "numeric values lie within the declared min/max",
    "categories": "category values are among the declared categories",
    "unique_ids": "the id column has no duplicates",
    "not_null": "non-nullable columns have no nulls",
    "min_rows": "the batch has at least schema.min_rows rows",
}
#: Statistical expectations: reported with WARN severity, never blocking.
WARN_CHECKS: dict[str, str] = {
    "null_fraction": "nullable columns stay under schema.max_null_fraction nulls",
    "expected_row_count": "row count lies within schema.expected_rows",
}

_PANDAS_DTYPES = {"int": "int64", "float": "float64", "bool": "bool", "datetime": "datetime64[ns]"}
_NULLABLE_DTYPES = {"int": "Int64", "bool": "boolean"}
_SAMPLE = 10


def pandas_dtype(col: ColumnSpec) -> object:
    """The pandas dtype a validated column is stored as."""
    if col.dtype in ("str", "category"):
        return str
    if col.nullable and col.dtype in _NULLABLE_DTYPES:
        return _NULLABLE_DTYPES[col.dtype]
    return _PANDAS_DTYPES[col.dtype]


def build_schema(schema: SchemaSpec) -> pa.DataFrameSchema:
    """A coercing pandera schema for the raw batch, generated from the spec's columns."""
    import pandera.pandas as pa

    columns = {}
    for name, col in schema.columns.items():
        checks = []
        if col.min is not None:
            checks.append(pa.Check.ge(col.min))
        if col.max is not None:
            checks.append(pa.Check.le(col.max))
        if col.categories:
            checks.append(pa.Check.isin(col.categories))
        columns[name] = pa.Column(
            pandas_dtype(col),
            checks=checks,
            nullable=col.nullable,
            unique=col.unique or name == schema.id_column,
            coerce=True,
            description=col.description or None,
        )
    min_rows = schema.min_rows
    return pa.DataFrameSchema(
        columns,
        checks=[pa.Check(lambda df: len(df) >= min_rows, name="min_rows", error=f"min_rows({min_rows})")],
        strict=False,
        ordered=False,
    )


def _category(check: str) -> str:
    if check == "column_in_dataframe":
        return "columns_present"
    if check.startswith(("coerce_dtype", "dtype(")):
        return "dtypes"
    if check == "field_uniqueness":
        return "unique_ids"
    if check == "not_nullable":
        return "not_null"
    if check.startswith("isin"):
        return "categories"
    if check.startswith(("greater_than", "less_than", "in_range")):
        return "value_ranges"
    if check.startswith("min_rows"):
        return "min_rows"
    return "dtypes"


@dataclass(frozen=True)
class CheckOutcome:
    """One named check over one batch: passed, and if not, what failed."""

    name: str
    passed: bool
    failing_columns: list[str] = field(default_factory=list)
    pandera_checks: list[str] = field(default_factory=list)
    failure_count: int = 0
    sample: pd.DataFrame | None = None
    message: str = ""


@dataclass(frozen=True)
class ValidationResult:
    """Every named check's outcome and, when all blocking checks pass, the coerced batch."""

    outcomes: dict[str, CheckOutcome]
    validated: pd.DataFrame | None

    @property
    def passed(self) -> bool:
        return all(self.outcomes[name].passed for name in BLOCKING_CHECKS)

    def failure_summary(self) -> str:
        failed = [o for o in self.outcomes.values() if not o.passed and o.name in BLOCKING_CHECKS]
        return "; ".join(o.message for o in failed)


def _outcome(name: str, cases: pd.DataFrame) -> CheckOutcome:
    if cases.empty:
        return CheckOutcome(name=name, passed=True, message=f"{name}: passed")
    columns = sorted({str(c) for c in cases["column"].where(cases["column"].notna(), cases["failure_case"])})
    checks = sorted(cases["check"].astype(str).unique())
    sample = cases[["column", "check", "failure_case", "index"]].head(_SAMPLE).astype(str).reset_index(drop=True)
    if name == "columns_present":
        message = f"columns_present: missing column(s) {columns}; add them to the batch or fix the spec"
    elif name == "min_rows":
        message = "min_rows: the batch has too few rows (is the day's source empty?)"
    else:
        message = f"{name}: {len(cases)} failing value(s) in column(s) {columns} ({', '.join(checks)})"
    return CheckOutcome(
        name=name,
        passed=False,
        failing_columns=columns,
        pandera_checks=checks,
        failure_count=len(cases),
        sample=sample,
        message=message,
    )


def _warn_outcomes(schema: SchemaSpec, df: pd.DataFrame) -> dict[str, CheckOutcome]:
    n = len(df)
    nulls = {
        name: float(df[name].isna().mean()) if n else 0.0
        for name, col in schema.columns.items()
        if col.nullable and name in df.columns
    }
    too_many = {k: v for k, v in nulls.items() if v > schema.max_null_fraction}
    null_outcome = CheckOutcome(
        name="null_fraction",
        passed=not too_many,
        failing_columns=sorted(too_many),
        failure_count=len(too_many),
        message=(
            f"null_fraction: {', '.join(f'{k}={v:.3f}' for k, v in too_many.items())} above {schema.max_null_fraction}"
            if too_many
            else "null_fraction: passed"
        ),
    )
    low, high = schema.expected_rows or (0, None)
    in_range = n >= low and (high is None or n <= high)
    rows_outcome = CheckOutcome(
        name="expected_row_count",
        passed=in_range,
        failure_count=0 if in_range else 1,
        message=f"expected_row_count: {n} rows" + ("" if in_range else f", expected within [{low}, {high}]"),
    )
    return {"null_fraction": null_outcome, "expected_row_count": rows_outcome}


def validate_batch(schema: SchemaSpec, raw: pd.DataFrame) -> ValidationResult:
    """Validate and coerce one raw batch; group pandera's failure cases into the named checks.

    Examples
    --------
    >>> from mlops_assets.spec import SchemaSpec
    >>> s = SchemaSpec.model_validate({"id_column": "id", "event_time_column": "t",
    ...     "columns": {"id": {"dtype": "str"}, "t": {"dtype": "datetime"}, "x": {"dtype": "int", "max": 5}}})
    >>> r = validate_batch(s, pd.DataFrame({"id": ["a", "b"], "t": ["2026-01-01", "2026-01-01"], "x": [1, 9]}))
    >>> r.passed, r.outcomes["value_ranges"].failing_columns
    (False, ['x'])
    """
    from pandera.errors import SchemaErrors

    try:
        validated = build_schema(schema).validate(raw, lazy=True)
        cases = pd.DataFrame(columns=["schema_context", "column", "check", "check_number", "failure_case", "index"])
    except SchemaErrors as err:
        validated = None
        cases = err.failure_cases.copy()
    cases["category"] = cases["check"].astype(str).map(_category)
    # A value that cannot be read as its dtype also trips the range checks with a TypeError: report it once.
    bad_dtype_cols = set(cases.loc[cases["category"] == "dtypes", "column"])
    cases = cases[~((cases["category"] == "value_ranges") & cases["column"].isin(bad_dtype_cols))]
    outcomes = {name: _outcome(name, cases[cases["category"] == name]) for name in BLOCKING_CHECKS}
    outcomes.update(_warn_outcomes(schema, raw))
    if validated is not None:
        validated = validated[list(schema.columns)].reset_index(drop=True)
    return ValidationResult(outcomes=outcomes, validated=validated)
