"""The MLflow scoring protocol of ``/invocations``, as ``mlflow models serve`` (MLflow 3) speaks it.

Bodies: ``application/json`` with exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``,
``inputs`` (records, an object of equal-length column lists, or one record as an object of scalars) and an
optional ``params`` (accepted and ignored, as MLflow does for a model without a params schema); or
``text/csv`` (a header row, then one row per record). Errors are MLflow's: 400 ``{"error_code": "BAD_REQUEST"
| "INVALID_PARAMETER_VALUE", "message": ...}`` (contract problems are listed under ``problems``), 415 as
``text/plain``; see :func:`mlflow_error`. Nothing here imports MLflow.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

CSV = "text/csv"
JSON = "application/json"
CONTENT_TYPES = [CSV, JSON]
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
REQUIRED_INPUT_FORMAT = ("The input must be a JSON dictionary with exactly one of the input fields "
                         "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}")

#: HTTP status -> MLflow error code (mlflow.exceptions; 422 is answered as MLflow's 400).
ERROR_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "ENDPOINT_NOT_FOUND",
               409: "RESOURCE_CONFLICT", 413: "REQUEST_LIMIT_EXCEEDED", 422: "INVALID_PARAMETER_VALUE",
               429: "RESOURCE_EXHAUSTED", 500: "INTERNAL_ERROR", 503: "TEMPORARILY_UNAVAILABLE"}


class ProtocolError(Exception):
    """An /invocations request MLflow would refuse: ``status`` with MLflow's error body."""

    def __init__(self, message: str, error_code: str = "BAD_REQUEST", status: int = 400, **extra):
        super().__init__(message)
        self.message, self.error_code, self.status, self.extra = message, error_code, status, extra


class MediaTypeError(ProtocolError):
    """415: MLflow answers it as text/plain."""

    def __init__(self, message: str):
        super().__init__(message, "BAD_REQUEST", 415)


def invalid(message: str, **extra) -> ProtocolError:
    """Input that parses but does not fit the model's schema (MLflow: 400 INVALID_PARAMETER_VALUE)."""
    return ProtocolError(message, "INVALID_PARAMETER_VALUE", 400, error_class="SCHEMA_ENFORCEMENT_FAILED", **extra)


def mlflow_error(status: int, message: str, **extra) -> Response:
    """MLflow's error response for ``status`` (415 is plain text, as in MLflow)."""
    if status == 415:
        return PlainTextResponse(message, status_code=415)
    code = extra.pop("error_code", None) or ERROR_CODES.get(status, "INTERNAL_ERROR")
    return JSONResponse({"error_code": code, "message": message, **extra}, status_code=400 if status == 422 else status)


def error_response(err: ProtocolError) -> Response:
    return mlflow_error(err.status, err.message, error_code=err.error_code, **err.extra)


@dataclass
class Parsed:
    """An /invocations body: its rows (a list of record objects, or a frame for CSV) and their columns."""

    rows: list[dict] | pd.DataFrame
    columns: list[str]
    params: object = None

    def __len__(self) -> int:
        return len(self.rows)


def media_type(content_type: str | None) -> str:
    """MLflow's content-type rules: UTF-8 only, no other parameters, CSV or JSON (absent: JSON)."""
    if content_type is None or not content_type.strip():
        return JSON
    parts = [p.strip() for p in content_type.split(";")]
    params = {k.strip().lower(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in parts[1:] if p)}
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise MediaTypeError("The scoring server only supports UTF-8")
    unknown = sorted(set(params) - {"charset"})
    if unknown:
        raise MediaTypeError(f"Unrecognized content type parameters: {', '.join(unknown)}.")
    mime = parts[0].lower()
    if mime not in CONTENT_TYPES:
        raise MediaTypeError(f"This predictor only supports the following content types: Types: {CONTENT_TYPES}. "
                             f"Got '{content_type}'.")
    return mime


async def read_body(request: Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes (413 over it, before reading more than that)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ProtocolError(f"invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            raise ProtocolError(f"request body of {int(declared)} bytes is over the limit of {limit} bytes",
                                ERROR_CODES[413], 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProtocolError(f"request body is over the limit of {limit} bytes", ERROR_CODES[413], 413)
        chunks.append(chunk)
    return b"".join(chunks)


def parse(body: bytes, mime: str, max_records: int) -> Parsed:
    """An /invocations body -> :class:`Parsed`; :class:`ProtocolError` with MLflow's code when it is malformed."""
    parsed = _parse_csv(body) if mime == CSV else _parse_json(body)
    if len(parsed) == 0:
        raise invalid("Failed to enforce schema: the input has no rows: send at least one record")
    if len(parsed) > max_records:
        raise ProtocolError(f"the input has {len(parsed)} records, over the limit of {max_records} per request",
                            ERROR_CODES[413], 413)
    return parsed


def _parse_csv(body: bytes) -> Parsed:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(f"Invalid input. Ensure that input is a valid UTF-8 encoded string. Error: '{err!r}'") from None
    try:
        frame = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise invalid("Failed to enforce schema: the CSV input has no columns") from None
    except Exception as err:  # pandas raises many kinds on bad CSV
        raise ProtocolError("Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
                            "CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. "
                            f"Error: '{err}'") from None
    if not frame.columns.is_unique:
        raise ProtocolError("Failed to parse input as a Pandas DataFrame: duplicate column names")
    return Parsed(frame, [str(c) for c in frame.columns])


def _parse_json(body: bytes) -> Parsed:
    try:
        data = json.loads(body)  # NaN and Infinity too, as MLflow (and its client, for frames with NaN) send them
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ProtocolError(f"Invalid input. Ensure that input is a valid JSON formatted string. Error: '{err!r}'") from None
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"unexpected input type '{type(data).__name__}'"
        raise ProtocolError(f"Invalid input. {REQUIRED_INPUT_FORMAT}. Received {what}.")
    keys = [k for k in FORMATS if k in data]
    if len(keys) != 1:
        raise ProtocolError(f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {list(data)}.")
    key, value = keys[0], data[keys[0]]
    if key == "dataframe_split":
        return _split(value, data.get("params"))
    if key == "dataframe_records":
        if not isinstance(value, list):
            what = "dictionary" if isinstance(value, dict) else f"type {type(value).__name__}"
            raise ProtocolError(f"Invalid input. Dataframe records format must be a list of records. Got {what}.")
        return _records(value, key, data.get("params"))
    # instances / inputs (TF serving): records, column lists, or one record of scalars
    if isinstance(value, list):
        return _records(value, key, data.get("params"))
    if isinstance(value, dict):
        return _columnar(value, key, data.get("params"))
    raise invalid(f"Failed to enforce schema: '{key}' must be a list of records or an object of columns, "
                  f"got {type(value).__name__}")


def _records(rows: list, key: str, params) -> Parsed:
    bad = next((i for i, r in enumerate(rows) if type(r) is not dict), None)
    if bad is not None:
        raise invalid(f"Failed to enforce schema: '{key}' must be a list of objects (field: value); "
                      f"record {bad} is {type(rows[bad]).__name__}",
                      problems=[{"record": bad, "field": None, "error": "must be a JSON object"}], error_count=1)
    return Parsed(rows, list(dict.fromkeys(str(k) for r in rows for k in r)), params)


def _columnar(cols: dict, key: str, params) -> Parsed:
    lists = [isinstance(v, list) for v in cols.values()]
    if lists and not any(lists):  # one record given as an object of scalars
        return Parsed([cols], list(cols), params)
    if not all(lists):
        raise ProtocolError(f"Invalid input. '{key}' columns must all be lists of values (or all scalars)")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise invalid("The length of values for each input/column name are not the same")
    n = lengths.pop() if lengths else 0
    names = list(cols)
    return Parsed([dict(zip(names, values)) for values in zip(*cols.values())] if n else [], names, params)


def _split(value: object, params) -> Parsed:
    if not isinstance(value, dict):
        what = "list" if isinstance(value, list) else f"type {type(value).__name__}"
        raise ProtocolError(f"Invalid input. Dataframe split format must be a dictionary. Got {what}.")
    keys = set(value)
    if "data" not in keys or keys - {"columns", "data", "index"}:
        raise ProtocolError("Invalid input. Dataframe split format must have 'data' field and optionally "
                            f"'columns' and 'index' fields. Got {sorted(keys)}.")
    rows, columns, index = value["data"], value.get("columns"), value.get("index")
    problem = None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        problem = "'data' must be a list of rows (lists of values)"
    elif columns is None:
        columns = list(range(len(rows[0]) if rows else 0))  # pandas names them 0, 1, ...: no field matches
    elif not isinstance(columns, list) or not all(isinstance(c, (str, int)) and type(c) is not bool for c in columns):
        problem = "'columns' must be a list of column names"
    elif len({str(c) for c in columns}) != len(columns):
        problem = "'columns' must be distinct"
    if problem is None:
        width = next((len(r) for r in rows if len(r) != len(columns)), None)
        if width is not None:
            problem = f"{len(columns)} columns passed, passed data had {width} columns"
        elif index is not None and (not isinstance(index, list) or len(index) != len(rows)):
            problem = f"Length of values ({len(rows)}) does not match length of index"
    if problem is not None:
        raise ProtocolError("Invalid input. Provided dataframe_split field is not a valid dataframe representation "
                            f"in 'split' format. Error: '{problem}'")
    names = [str(c) for c in columns]
    return Parsed([dict(zip(names, r)) for r in rows], names, params)


def input_kind(columns: list[str], raw_fields: list[str], feature_fields: list[str]) -> str:
    """``"raw"`` when the payload carries every raw field, else ``"features"`` when it carries every feature
    column (what ``mlflow models serve`` takes), else whichever it is closer to (raw on a tie)."""
    have = set(columns)
    raw_missing = sum(c not in have for c in raw_fields)
    if raw_missing == 0 or feature_fields == raw_fields:
        return "raw"
    feature_missing = sum(c not in have for c in feature_fields)
    return "features" if feature_missing == 0 or feature_missing < raw_missing else "raw"
