"""Request bodies: bounded JSON reading and the /predict shape (MLflow's /invocations: :mod:`.protocol`)."""

from __future__ import annotations

import json

import pandas as pd
from starlette.requests import Request

class ClientError(Exception):
    """A request the client must fix: answered with ``status`` and ``{"detail": detail}``."""

    def __init__(self, status: int, detail: object, **extra):
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.extra = extra


def _no_constants(name: str):
    raise ValueError(f"non-standard JSON constant {name} is not allowed")


async def read_json(request: Request, limit: int, *, require_json_type: bool = True) -> object:
    """The parsed JSON body; 413 over ``limit`` bytes, 415 for a non-JSON content type, 400 if malformed."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if require_json_type and ctype not in ("application/json", ""):
        raise ClientError(415, f"content type must be application/json, got '{ctype}'")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ClientError(400, f"invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            raise ClientError(413, f"request body of {int(declared)} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ClientError(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise ClientError(400, "empty request body: send a JSON object")
    try:
        return json.loads(body, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise ClientError(400, "request body is not valid UTF-8") from None
    except RecursionError:
        raise ClientError(400, "malformed JSON: nested too deeply") from None
    except ValueError as err:
        raise ClientError(400, f"malformed JSON: {err}") from None


def _records(records: object, where: str, max_records: int) -> list[dict]:
    if not isinstance(records, list):
        raise ClientError(422, f"'{where}' must be a list of objects, got {type(records).__name__}")
    _check_count(len(records), where, max_records)
    bad = next((i for i, r in enumerate(records) if type(r) is not dict), None)
    if bad is not None:
        raise ClientError(422, [{"record": bad, "field": None,
                                 "error": f"must be a JSON object, got {type(records[bad]).__name__}"}])
    return records


def _check_count(n: int, where: str, max_records: int) -> None:
    if n == 0:
        raise ClientError(422, f"'{where}' is empty: send at least one record")
    if n > max_records:
        raise ClientError(413, f"'{where}' has {n} records, over the limit of {max_records} per request")


def _frame(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(rows) if isinstance(rows, list) else rows


def predict_records(body: object, max_records: int) -> list[dict]:
    """``{"records": [{...}, ...]}`` -> the checked list of record objects."""
    if not isinstance(body, dict):
        raise ClientError(422, f"body must be a JSON object with a 'records' list, got {type(body).__name__}")
    if "records" not in body:
        raise ClientError(422, f"body is missing the 'records' field (got fields {sorted(body)})")
    return _records(body["records"], "records", max_records)


def predict_frame(body: object, max_records: int) -> pd.DataFrame:
    """``{"records": [{...}, ...]}`` -> one row per record."""
    return _frame(predict_records(body, max_records))
