"""The model server: a Starlette app scoring one project's raw records with its live (and candidate) model.

No Dagster here; the app is built by :func:`create_app` and does no work at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlops_assets.labels import LabelError, binary_labels
from mlops_assets.serving.batching import FILL_WAIT_S, Job, MicroBatcher
from mlops_assets.serving.contract import Contract, ContractError
from mlops_assets.serving.contract import utf8 as _utf8
from mlops_assets.serving.metrics import ServingMetrics
from mlops_assets.serving.models import LoadedModel, load_model
from mlops_assets.serving.openapi import openapi_document
from mlops_assets.serving.payloads import ClientError, predict_records, read_json
from mlops_assets.serving import protocol
from mlops_assets.serving.schema import FeatureError, RequestModels
from mlops_assets.data.fingerprint import row_hashes
from mlops_assets.serving.predlog import LogUnavailable, PredictionLog, new_request_id, utcnow
from mlops_assets.serving.routing import MODES, Router, RoutingError
from mlops_assets.serving.routing import Route as ModelRoute
from mlops_assets.spec import ProjectSpec

log = logging.getLogger(__name__)

#: Longest /feedback request_id accepted (the server's own ids are 32 hex digits).
MAX_REQUEST_ID = 256
OPEN_PATHS = ("/health", "/ping", "/ready", "/version", "/metrics", "/openapi.json")
ROUTE_LABELS = {"/predict", "/invocations", "/feedback", "/admin/load", "/admin/promote", "/admin/rollback",
                "/admin/status", *OPEN_PATHS}


class _Server:
    """The app's state and handlers: contract, router, batcher, prediction log and metrics."""

    def __init__(self, spec: ProjectSpec, log_dir: Path, token: str | None, max_body_bytes: int, max_records: int,
                 max_wait_s: float, max_batch_rows: int, flush_interval_s: float, loader: Callable[..., LoadedModel],
                 predict_threads: int | None, fill_wait_s: float, log_options: dict | None = None):
        self.spec = spec
        self.labels = binary_labels(spec)  # a classifier's classes: codes 0/1 <-> labels as the feed spells them
        self.contract = Contract(spec)
        self.router = Router()
        self.metrics = ServingMetrics()
        self.predlog = PredictionLog(log_dir, spec.name, self.contract.columns, flush_interval_s,
                                     **(log_options or {}))
        self.metrics.watch_log(self.predlog.stats)
        self.batcher = MicroBatcher(self.contract.features, max_batch_rows=max_batch_rows, max_wait_s=max_wait_s,
                                    fill_wait_s=fill_wait_s, on_scored=self._on_scored, predict_threads=predict_threads,
                                    on_batch=self.metrics.batch_rows.observe, row_hash=row_hashes,
                                    feature_arrays=self.contract.feature_arrays)
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.max_records = max_records
        self.loader = loader
        self.load_error: str | None = None
        self._admin = asyncio.Lock()
        self._sample = None

    # ------------------------------------------------------------ plumbing
    def _on_scored(self, scored: list) -> None:
        """A batch's rows reach the log's segment file before their answers are released (the batcher waits)."""
        try:
            self.predlog.append_scored(scored)
        except LogUnavailable as err:  # not acknowledged: the client may retry
            raise ClientError(503, f"prediction log unavailable: {err}") from None
        for _, model, role, _, score in scored:
            self.metrics.observe_scores(model.version, role, score)

    def _authorize(self, request: Request) -> None:
        if self.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise ClientError(401, "missing or wrong bearer token (send 'Authorization: Bearer <token>')")

    def _route(self) -> ModelRoute:
        """The model for this request (:meth:`Router.choose`); 503 while none is loaded."""
        try:
            return self.router.choose()
        except RoutingError as err:
            raise ClientError(503, f"not ready: {err}") from None

    async def _score(self, request: Request, to_input) -> tuple:
        self._authorize(request)
        at = utcnow()
        request_id = new_request_id(at)
        with self.batcher.expecting() as ticket:
            body = await read_json(request, self.max_body_bytes)
            rows = to_input(body, self.max_records)  # a list of records or a frame
            return await self._score_rows(rows, ticket, at, request_id)

    async def _score_rows(self, rows, ticket, at, request_id: str) -> tuple:
        """Validate raw rows (a list of records or a frame), route them and score them in a micro-batch."""
        try:
            checked = (self.contract.validate_records(rows) if isinstance(rows, list)
                       else self.contract.validate(rows))
        except ContractError as err:
            raise ClientError(422, err.problems, error_count=err.total) from None
        route = self._route()
        job = Job(checked.frame, route.model, route.role, route.shadow, tag=(request_id, at),
                  columns=checked.columns)
        pred, score = await self.batcher.submit(job, ticket)
        return request_id, route, checked.warnings, pred, score

    # ------------------------------------------------------------ scoring routes
    async def predict(self, request: Request) -> Response:
        request_id, route, warnings, pred, score = await self._score(request, predict_records)
        if route.model.task == "classification":
            # The model predicts codes (positive class = 1): answer the label as the feed spells it, and the
            # probability of the positive class.
            labels = self.labels.decode(pred).tolist() if self.labels is not None else pred.tolist()
            rows = [{"prediction": p, "probability": s} for p, s in zip(labels, score.tolist())]
        else:
            rows = [{"prediction": p} for p in pred.tolist()]
        body = {"request_id": request_id, "model_version": route.model.version, "role": route.role,
                "predictions": rows, "warnings": warnings}
        return _FastJSON(body, headers=self._headers(request_id, route, warnings))

    async def invocations(self, request: Request) -> Response:
        """The MLflow scoring protocol (:mod:`.protocol`) with MLflow's errors; rows carry the raw fields or the
        model's feature columns, decided by their columns and named in the ``x-input-kind`` header."""
        try:
            self._authorize(request)
            at = utcnow()
            request_id = new_request_id(at)
            mime = protocol.media_type(request.headers.get("content-type"))
            with self.batcher.expecting() as ticket:
                parsed = protocol.parse(await protocol.read_body(request, self.max_body_bytes), mime,
                                        self.max_records)
                kind = protocol.input_kind(parsed.columns, self.models.raw_fields, list(self.models.feature_columns))
                if kind == "features":
                    route, warnings, pred = await self._score_features(parsed.rows)
                else:
                    _, route, warnings, pred, _ = await self._score_rows(parsed.rows, ticket, at, request_id)
        except protocol.ProtocolError as err:
            return protocol.error_response(err)
        except ClientError as err:
            return _mlflow_client_error(err)
        headers = self._headers(request_id, route, warnings)
        headers["x-input-kind"] = kind
        # What the logged model's pyfunc returns (as `mlflow models serve` would): a classifier's class codes 0/1,
        # 1 = the spec's positive class (it is fitted on codes, mlops_assets.labels), not the feed's spelling;
        # /predict answers the labels ("yes"/"no", true/false) and the probability of the positive class.
        return _FastJSON({"predictions": pred.tolist()}, headers=headers)

    async def _score_features(self, rows) -> tuple:
        """Feature rows (the model signature's columns) checked by the feature model and scored as they are
        (no micro-batch, no prediction-log row: the log keeps raw fields)."""
        records = rows if isinstance(rows, list) else rows.to_dict(orient="records")
        try:
            frame, warnings = self.models.validate_features(records)
        except FeatureError as err:
            raise ClientError(422, err.problems, error_count=err.total) from None
        route = self._route()
        try:  # the values are the client's (no spec range for computed features): a failure is theirs, as in MLflow
            pred, score = await asyncio.to_thread(route.model.predict, frame)
            if not np.isfinite(score).all():
                raise ValueError("the model returned a non-finite score")
        except Exception as err:
            raise protocol.ProtocolError("Encountered an unexpected error while evaluating the model. Verify that "
                                         f"the input is compatible with the model for inference: {err}") from None
        self.metrics.observe_scores(route.model.version, route.role, score)
        return route, warnings, pred

    @staticmethod
    def _headers(request_id: str, route, warnings: list[str]) -> dict:
        headers = {"x-request-id": request_id, "x-model-version": route.model.version, "x-model-role": route.role}
        if warnings:  # field names come from the client: keep the header printable ASCII
            text = "; ".join(warnings).encode("ascii", "backslashreplace").decode()
            headers["x-warnings"] = "".join(ch if ch.isprintable() else "?" for ch in text)[:1000]
        return headers

    async def feedback(self, request: Request) -> Response:
        """A label for row ``row`` of an answered request; 202 once it is in the log's segment file."""
        self._authorize(request)
        body = await read_json(request, self.max_body_bytes)
        if not isinstance(body, dict):
            raise ClientError(422, f"body must be a JSON object with 'request_id' and 'label', got {type(body).__name__}")
        missing = [k for k in ("request_id", "label") if k not in body]
        if missing:
            raise ClientError(422, [{"record": None, "field": k, "error": f"body is missing {missing}"} for k in missing])
        request_id, label, row = body["request_id"], body["label"], body.get("row", 0)
        target = self.spec.target.column
        problems = []
        if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_REQUEST_ID or not _utf8(request_id):
            problems.append({"record": None, "field": "request_id",
                             "error": f"must be a non-empty string of at most {MAX_REQUEST_ID} characters"})
        if type(row) is not int or not 0 <= row < self.max_records:  # a request has at most max_records rows
            problems.append({"record": None, "field": "row", "error": f"must be a non-negative integer below "
                                                                       f"{self.max_records}, got {_short(row)}"})
        found = self.contract.check_value(target, label)
        allowed = f"; one of {self.labels.allowed}" if self.labels is not None else ""
        if found or label is None:
            error = found[0]["error"] if found else "must not be null"
            problems.append({"record": None, "field": "label", "error": f"{error} (target '{target}'{allowed})"})
        elif self.labels is not None:
            try:  # the log keeps a classifier's label as its code: 1 = the positive class
                label = self.labels.parse(label)
            except LabelError as err:
                problems.append({"record": None, "field": "label", "error": str(err)})
        if problems:
            raise ClientError(422, problems)
        try:
            self.predlog.append_feedback(request_id, row, float(label), utcnow())
        except LogUnavailable as err:
            raise ClientError(503, f"feedback log unavailable: {err}") from None
        return JSONResponse({"status": "recorded", "request_id": request_id, "row": row}, status_code=202)

    # ------------------------------------------------------------ open routes
    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        if self.router.live is None:
            reason = f"model load failed: {self.load_error}" if self.load_error else "no model loaded yet"
            return JSONResponse({"ready": False, "detail": reason}, status_code=503)
        return JSONResponse({"ready": True, "model_version": self.router.live.version})

    async def version(self, request: Request) -> Response:
        live, cand = self.router.live, self.router.candidate
        info = live.info.as_dict() if live else {"project": self.spec.name, "model_uri": None, "model_version": None,
                                                 "alias": None, "data_version": None}
        return JSONResponse({**info, "strategy": self.router.mode or "blue_green", "weight": self.router.weight,
                             "candidate": cand.info.as_dict() if cand else None})

    async def metrics_route(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            self._openapi = openapi_document(self.models, protected=self.token is not None)
        return JSONResponse(self._openapi)

    async def ping(self, request: Request) -> Response:
        """MLflow's liveness probe (``ScoringServerClient.ping``/``wait_server_ready``): 200 while the process
        answers, like ``/health``."""
        return JSONResponse({"status": "ok"})

    # ------------------------------------------------------------ admin
    def _sample_features(self):
        if self._sample is None:
            records = [self.contract.example_record(), *self.contract.sample_records()]
            checked = self.contract.validate(pd.DataFrame(records))
            self._sample = self.contract.features(checked.raw)
        return self._sample

    def _load_and_check(self, uri: str, version, alias, data_version) -> LoadedModel:
        model = self.loader(uri, project=self.spec.name, task=self.spec.target.task, version=version, alias=alias,
                            data_version=data_version)
        model.check(self._sample_features())  # warm-up + the post-load check, before the model is routable
        return model

    async def load(self, uri: str, *, mode: str = "blue_green", weight: float = 0.0, version: str | None = None,
                   alias: str | None = None, data_version: str | None = None) -> LoadedModel:
        async with self._admin:
            model = await asyncio.to_thread(self._load_and_check, uri, version, alias, data_version)
            if mode == "blue_green":
                self.router.set_live(model)
            else:
                self.router.set_candidate(model, mode, weight)
            self.load_error = None  # a good load clears an earlier failure from /ready and /admin/status
            self.metrics.ready.set(1)
            return model

    async def admin_load(self, request: Request) -> Response:
        self._authorize(request)
        body = await read_json(request, self.max_body_bytes)
        if not isinstance(body, dict) or not isinstance(body.get("model_uri"), str) or not body["model_uri"]:
            raise ClientError(422, "body must be a JSON object with a non-empty 'model_uri' string")
        mode = body.get("mode", "blue_green")
        if mode not in MODES:
            raise ClientError(422, f"'mode' must be one of {list(MODES)}, got {mode!r}")
        weight = body.get("weight", self.spec.deployment.canary_weight if mode == "canary" else 0.0)
        if type(weight) not in (int, float) or not 0 <= weight <= 1:
            raise ClientError(422, f"'weight' must be a number within [0, 1], got {weight!r}")
        meta = {}
        for k in ("version", "alias", "data_version"):
            if body.get(k) is not None:
                if not isinstance(body[k], (str, int)) or isinstance(body[k], bool):
                    raise ClientError(422, f"'{k}' must be a string")
                meta[k] = str(body[k])
        if mode != "blue_green" and self.router.live is None:
            raise ClientError(409, f"no live model to run a {mode} against: load one with mode 'blue_green' first")
        try:
            model = await self.load(body["model_uri"], mode=mode, weight=float(weight), **meta)
        except (RoutingError, ClientError):
            raise
        except Exception as err:  # the URI or the model is the client's to fix: say why, keep serving
            log.warning("admin load of %s failed: %s", body["model_uri"], err)
            raise ClientError(422, f"cannot load model {body['model_uri']!r}: {type(err).__name__}: {err}") from None
        return JSONResponse({"loaded": model.info.as_dict(), "mode": mode, **self.router.status()})

    async def admin_promote(self, request: Request) -> Response:
        self._authorize(request)
        async with self._admin:
            self.router.promote()
        return JSONResponse(self.router.status())

    async def admin_rollback(self, request: Request) -> Response:
        self._authorize(request)
        async with self._admin:
            action = self.router.rollback()
        return JSONResponse({"action": action, **self.router.status()})

    async def admin_status(self, request: Request) -> Response:
        self._authorize(request)
        return JSONResponse({**self.router.status(), "ready": self.router.live is not None,
                             "load_error": self.load_error, "batches": self.batcher.batches,
                             "rows_logged": self.predlog.rows_written})

    async def load_initial(self, uri: str, meta: dict) -> None:
        try:
            await self.load(uri, **meta)
        except Exception as err:
            self.load_error = f"{type(err).__name__}: {err}"
            log.error("initial model %s could not be loaded: %s", uri, self.load_error)


def _short(v: object) -> str:
    text = repr(v) if not isinstance(v, int) or abs(v) < 10**60 else f"an integer of {len(str(abs(v)))} digits"
    return text if len(text) <= 60 else text[:57] + "..."


class _FastJSON(JSONResponse):
    """JSONResponse rendered by orjson (scoring answers: plain str/int/float/bool/None/list/dict)."""

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def _json_error(status: int, detail: object, **extra) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _mlflow_client_error(err: ClientError) -> Response:
    """A ClientError as MLflow answers it on /invocations: contract problems are 400 INVALID_PARAMETER_VALUE,
    listed under ``problems`` (``{record, field, error}``)."""
    if isinstance(err.detail, list):
        head = "; ".join(f"record {p['record']} field '{p['field']}': {p['error']}" for p in err.detail[:3])
        return protocol.mlflow_error(400, f"Failed to enforce schema of data: {head}",
                                     error_code="INVALID_PARAMETER_VALUE", error_class="SCHEMA_ENFORCEMENT_FAILED",
                                     problems=err.detail, error_count=err.extra.get("error_count", len(err.detail)))
    if err.status == 422:
        return protocol.mlflow_error(400, str(err.detail), error_code="INVALID_PARAMETER_VALUE")
    return protocol.mlflow_error(err.status, str(err.detail))


class _Metered:
    """ASGI middleware: count and time every HTTP request by route and status."""

    def __init__(self, app, metrics: ServingMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope["path"]
            self.metrics.observe_request(path if path in ROUTE_LABELS else "other", status[0],
                                         time.perf_counter() - start)


def read_token(token_env: str | None) -> str | None:
    """The bearer token from environment variable ``token_env``: None (no auth) when it is unset; an empty or
    whitespace-only value is refused (it would otherwise look like auth is on while it is off)."""
    value = os.environ.get(token_env) if token_env else None
    if value is not None and not value.strip():
        raise ValueError(f"environment variable {token_env} is set but empty or whitespace: set a token, or unset "
                         f"{token_env} to serve without auth")
    return value.strip() if value is not None else None  # headers arrive stripped: so must the token be


def create_app(
    spec: ProjectSpec,
    log_dir: Path,
    token_env: str | None = "MLOPS_SERVING_TOKEN",
    initial_model_uri: str | None = None,
    *,
    initial_version: str | None = None,
    initial_alias: str | None = None,
    initial_data_version: str | None = None,
    max_body_bytes: int = 10 * 1024 * 1024,
    max_records: int = 10_000,
    max_wait_s: float = 0.0015,
    fill_wait_s: float = FILL_WAIT_S,
    max_batch_rows: int = 2048,
    flush_interval_s: float = 10.0,
    log_retention_days: int | None = 30,
    max_pending_log_rows: int = 1_000_000,
    loader: Callable[..., LoadedModel] = load_model,
    predict_threads: int | None = 1,
) -> Starlette:
    """Build the model server for ``spec``.

    Parameters
    ----------
    spec : ProjectSpec
        The project; its raw schema is the request contract, its features the training definitions.
    log_dir : Path
        Where the prediction and feedback logs go (see :mod:`mlops_assets.serving.predlog`).
    token_env : str or None
        Name of the environment variable holding the bearer token, read here (not at import). When it
        is set, scoring, feedback and admin routes need ``Authorization: Bearer <token>``; set but empty
        or whitespace-only is refused (ValueError) rather than taken as "no auth".
    initial_model_uri : str or None
        Loaded in the background at startup; ``/ready`` answers 503 until it is warmed and checked.
    initial_version, initial_alias, initial_data_version : str or None
        Override what the registry says about the initial model (see :func:`models.load_model`).
    max_body_bytes, max_records : int
        Request limits (413 over them).
    max_wait_s, fill_wait_s, max_batch_rows : float, float, int
        Micro-batching: the most a batch waits for requests already on their way, the most it waits to
        fill up to the recent concurrency (never for a lone client), and its size cap.
    flush_interval_s : float
        How often the prediction log's segments are compacted into day Parquet files (and always on
        shutdown). Rows reach a segment file before their answer is released, whatever this is.
    log_retention_days : int or None
        Day folders of the log older than this are deleted (None or 0 keeps them all).
    max_pending_log_rows : int
        Cap on logged rows not yet compacted; over it scoring and feedback answer 503 (counted in
        ``mlops_log_dropped_rows_total``) instead of acknowledging rows the log may not keep.
    loader : callable
        ``loader(uri, project=, task=, version=, alias=, data_version=) -> LoadedModel``.
    predict_threads : int or None
        OpenMP/BLAS threads for predict (process-wide; None leaves the library defaults).

    Notes
    -----
    Fields a record carries that are not in the project's schema are ignored and named in the
    response's ``warnings`` (``/predict``) or the ``x-warnings`` header (``/invocations``, whose body
    keeps MLflow's shape); schema columns the model does not need (ids, event time, the target) are
    ignored silently. ``/invocations`` takes the same raw fields as ``/predict``, not features.

    Examples
    --------
    >>> from mlops_assets.spec import load_spec
    >>> app = create_app(load_spec("projects/churn.yaml"), Path("/tmp/predlog"), token_env=None)
    >>> sorted(r.path for r in app.routes)[:3]
    ['/admin/load', '/admin/promote', '/admin/rollback']
    """
    token = read_token(token_env)
    server = _Server(spec, Path(log_dir), token, max_body_bytes, max_records, max_wait_s, max_batch_rows,
                     flush_interval_s, loader, predict_threads, fill_wait_s,
                     {"retention_days": log_retention_days or None, "max_pending_rows": max_pending_log_rows})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await asyncio.to_thread(server.predlog.start)  # first compacts segments a killed process left
        await server.batcher.start()
        initial = None
        if initial_model_uri:
            meta = {"version": initial_version, "alias": initial_alias, "data_version": initial_data_version}
            initial = asyncio.create_task(server.load_initial(initial_model_uri, meta))
        try:
            yield
        finally:
            if initial is not None and not initial.done():
                initial.cancel()
            await server.batcher.stop()
            await asyncio.to_thread(server.predlog.stop)

    async def client_error(request: Request, exc: ClientError) -> Response:
        return _json_error(exc.status, exc.detail, **exc.extra)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        response = _json_error(exc.status_code, exc.detail,
                               **({"path": request.url.path} if exc.status_code == 404 else {}))
        response.headers.update(exc.headers or {})  # 405: Allow
        return response

    async def routing_error(request: Request, exc: RoutingError) -> Response:
        return _json_error(409, str(exc))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        if request.url.path == "/invocations":
            return protocol.mlflow_error(500, f"internal error: {type(exc).__name__}")
        return _json_error(500, f"internal error: {type(exc).__name__}")

    s = server
    s.models, s._openapi = RequestModels(spec, s.contract, max_records), None
    # Each path answers one method (any other gets 405 with Allow); paths are fixed, so their order does not matter.
    handlers = {
        "POST": {"/predict": s.predict, "/invocations": s.invocations, "/feedback": s.feedback,
                 "/admin/load": s.admin_load, "/admin/promote": s.admin_promote, "/admin/rollback": s.admin_rollback},
        "GET": {"/health": s.health, "/ping": s.ping, "/ready": s.ready, "/version": s.version,
                "/metrics": s.metrics_route, "/openapi.json": s.openapi, "/admin/status": s.admin_status},
    }
    routes = [Route(path, handler, methods=[method])
              for method, by_path in handlers.items() for path, handler in by_path.items()]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={ClientError: client_error, HTTPException: http_error, RoutingError: routing_error,
                            Exception: server_error},
    )
    app.add_middleware(_Metered, metrics=server.metrics)
    app.state.server = server
    return app
