"""The OpenAPI 3.1 document of the model server: the JSON schema of its pydantic models (:mod:`.schema`).

Nothing is written by hand but the list of routes, the status codes each answers and their descriptions; every
request and response body schema is pydantic's JSON schema of the project's generated models.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model

from mlops_assets.serving.schema import ModelInfo, RequestModels

REF = "#/components/schemas/{model}"
_OPEN = ConfigDict(extra="allow")

Health = create_model("Health", __config__=_OPEN, status=(str, ...))
Ready = create_model("Ready", __config__=_OPEN, ready=(bool, ...), model_version=(Optional[str], None),
                     detail=(Optional[str], None))
Slots = create_model("Slots", __config__=_OPEN, live=(Optional[ModelInfo], ...), previous=(Optional[ModelInfo], ...),
                     candidate=(Optional[ModelInfo], ...), strategy=(str, ...), weight=(float, ...))
Version = create_model("Version", __config__=_OPEN, project=(str, ...), model_uri=(Optional[str], ...),
                       model_version=(Optional[str], ...), alias=(Optional[str], ...),
                       data_version=(Optional[str], ...), strategy=(str, ...), weight=(float, ...),
                       candidate=(Optional[ModelInfo], ...))
Loaded = create_model("Loaded", __base__=Slots, loaded=(ModelInfo, ...), mode=(str, ...))
RolledBack = create_model("RolledBack", __base__=Slots, action=(str, ...))
Status = create_model("Status", __base__=Slots, ready=(bool, ...), load_error=(Optional[str], ...))
Recorded = create_model("Recorded", __config__=_OPEN, status=(Literal["recorded"], ...), request_id=(str, ...),
                        row=(int, ...))

DESCRIPTIONS = {
    "200": "OK", "202": "Accepted: in the log", "400": "Malformed body, header or JSON",
    "401": "Missing or wrong bearer token", "409": "Conflicts with the model slots (e.g. no candidate)",
    "413": "Body or record count over the limit", "415": "Unsupported content type",
    "422": "Valid JSON that breaks the contract: `detail` lists `{record, field, error}`",
    "503": "Not ready (no model loaded yet) or the prediction log is unavailable",
}


class _Doc:
    """Collects component schemas while the paths are written."""

    def __init__(self):
        self.schemas: dict[str, Any] = {}

    def schema(self, t: Any) -> dict:
        if isinstance(t, type) and issubclass(t, BaseModel):
            s = t.model_json_schema(ref_template=REF)
            self.schemas.update(s.pop("$defs", {}))
            self.schemas[t.__name__] = s
            return {"$ref": REF.format(model=t.__name__)}
        s = TypeAdapter(t).json_schema(ref_template=REF)
        self.schemas.update(s.pop("$defs", {}))
        return s

    def json(self, t: Any, example: object | None = None) -> dict:
        body: dict = {"schema": self.schema(t)}
        if example is not None:
            body["example"] = example
        return {"content": {"application/json": body}}


def openapi_document(models: RequestModels, protected: bool) -> dict:
    """OpenAPI 3.1 for the routes of :func:`mlops_assets.serving.app.create_app`, from ``models``."""
    spec = models.spec
    doc = _Doc()
    example = models.example
    error = doc.json(models.error)
    secured = ["401"] if protected else []

    def op(summary: str, ok: dict, codes: list[str], request: dict | None = None, auth: bool = False,
           ok_code: str = "200", headers: dict | None = None, errors: dict | None = None) -> dict:
        o: dict = {"summary": summary, "responses": {ok_code: {"description": DESCRIPTIONS[ok_code], **ok}}}
        if headers:
            o["responses"][ok_code]["headers"] = headers
        if request is not None:
            o["requestBody"] = {"required": True, **request}
        for code in ([*secured] if auth else []) + codes:
            o["responses"][code] = {"description": DESCRIPTIONS[code], **((errors or {}).get(code, error))}
        if auth and protected:
            o["security"] = [{"bearer": []}]
        return o

    def header(description: str, schema: dict | None = None, required: bool = True) -> dict:
        return {"description": description, "required": required, "schema": schema or {"type": "string"}}

    scored = {"x-request-id": header("Id of this request (for /feedback)"),
              "x-model-version": header("Version of the model that answered"),
              "x-model-role": header("live or candidate"),
              "x-warnings": header("What was ignored (unknown fields)", required=False)}
    mlflow = doc.json(models.mlflow_error)
    mlflow_errors = {c: mlflow for c in ("400", "401", "413", "503")}
    mlflow_errors["415"] = {"content": {"text/plain": {"schema": {"type": "string"}}}}
    csv_example = ",".join(example) + "\n" + ",".join(_csv(v) for v in example.values()) + "\n"
    paths = {
        "/predict": {"post": op(
            "Score raw records: one prediction (and probability, for classification) per record",
            doc.json(models.predict_response), ["400", "413", "415", "422", "503"],
            doc.json(models.predict_request, {"records": [example]}), auth=True, headers=scored)},
        "/invocations": {"post": op(
            "MLflow scoring protocol (as `mlflow models serve`): dataframe_split, dataframe_records, instances, "
            "inputs, params; JSON or CSV; MLflow's error body",
            doc.json(models.invocations_response), ["400", "413", "415", "503"],
            {"content": {"application/json": {"schema": doc.schema(models.invocations_request),
                                               "example": {"dataframe_records": [example]}},
                         "text/csv": {"schema": {"type": "string"}, "example": csv_example}}},
            auth=True, errors=mlflow_errors,
            headers={**scored, "x-input-kind": header(
                "raw: the payload carried the raw fields (features computed here); features: the model's "
                "feature columns", {"enum": ["raw", "features"], "type": "string"})})},
        "/feedback": {"post": op(
            "Record the true label of a scored record", doc.json(Recorded), ["400", "413", "415", "422", "503"],
            doc.json(models.feedback_request), auth=True, ok_code="202")},
        "/health": {"get": op("Liveness: the process answers", doc.json(Health), [])},
        "/ping": {"get": op("Liveness, MLflow's name for it (ScoringServerClient.ping)", doc.json(Health), [])},
        "/ready": {"get": op("Readiness: 200 once a model is loaded and warmed, else 503", doc.json(Ready), ["503"],
                             errors={"503": doc.json(Ready)})},
        "/version": {"get": op("Project, model version, alias, training data version, strategy, candidate",
                               doc.json(Version), [])},
        "/metrics": {"get": op("Prometheus metrics", {"content": {"text/plain": {"schema": {"type": "string"}}}}, [])},
        "/openapi.json": {"get": op("This document", {"content": {"application/json": {"schema": {"type": "object"}}}},
                                    [])},
        "/admin/load": {"post": op(
            "Load a model: blue_green (warm, check, swap), canary (weight share) or shadow", doc.json(Loaded),
            ["400", "409", "413", "415", "422", "503"], doc.json(models.admin_load_request), auth=True)},
        "/admin/promote": {"post": op("Make the candidate live", doc.json(Slots), ["409"], auth=True)},
        "/admin/rollback": {"post": op("Drop the candidate, else swap back to the previous live model",
                                       doc.json(RolledBack), ["409"], auth=True)},
        "/admin/status": {"get": op("Slots, strategy and counters", doc.json(Status), [], auth=True)},
    }
    components: dict = {"schemas": dict(sorted(doc.schemas.items()))}
    if protected:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{spec.name} model server", "version": "1", "description": spec.description},
        "components": components,
        "paths": paths,
    }


def _csv(v: object) -> str:
    return "" if v is None else str(v)
