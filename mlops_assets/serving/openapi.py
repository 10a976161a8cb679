"""The OpenAPI document of the model server, written out from the project's request contract."""

from __future__ import annotations

from mlops_assets.serving.contract import Contract


def _json(schema: dict, example: object | None = None) -> dict:
    body: dict = {"schema": schema}
    if example is not None:
        body["example"] = example
    return {"content": {"application/json": body}}


def openapi_document(contract: Contract, protected: bool) -> dict:
    """OpenAPI 3.1 for the routes of :func:`mlops_assets.serving.app.create_app`."""
    spec = contract.spec
    record = contract.json_schema()
    example = contract.example_record()
    problem = {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
    errors = {
        "401": {"description": "missing or wrong bearer token", **_json(problem)},
        "413": {"description": "body or record count over the limit", **_json(problem)},
        "415": {"description": "not application/json", **_json(problem)},
        "422": {"description": "malformed body or records breaking the contract; `detail` lists "
                               "`{record, field, error}`", **_json(problem)},
        "503": {"description": "no model loaded yet", **_json(problem)},
    }
    security = [{"bearer": []}] if protected else []
    pred_item = {"type": "object", "properties": {"prediction": {}, "probability": {"type": "number"}}}

    def op(summary: str, request: dict | None = None, response: dict | None = None, secured: bool = False,
           extra: tuple[str, ...] = ()) -> dict:
        o: dict = {"summary": summary, "responses": {"200": {"description": "OK", **_json(response or {})}}}
        if request is not None:
            o["requestBody"] = {"required": True, **request}
        for code in extra:
            o["responses"][code] = errors[code]
        if secured:
            o["security"] = security
        return o

    scoring = ("401", "413", "415", "422", "503")
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{spec.name} model server", "version": "1", "description": spec.description},
        "components": {
            "schemas": {"Record": record},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/predict": {"post": op(
                "Score records; one prediction (and probability, for classification) per record",
                _json({"type": "object", "required": ["records"],
                       "properties": {"records": {"type": "array", "minItems": 1,
                                                  "items": {"$ref": "#/components/schemas/Record"}}}},
                      {"records": [example]}),
                {"type": "object", "properties": {
                    "request_id": {"type": "string"}, "model_version": {"type": "string"},
                    "role": {"type": "string"}, "predictions": {"type": "array", "items": pred_item},
                    "warnings": {"type": "array", "items": {"type": "string"}}}},
                secured=True, extra=scoring)},
            "/invocations": {"post": op(
                "MLflow scoring protocol: one of dataframe_split, dataframe_records, inputs (raw fields)",
                _json({"type": "object"}, {"dataframe_records": [example]}),
                {"type": "object", "properties": {"predictions": {"type": "array"}}},
                secured=True, extra=scoring)},
            "/feedback": {"post": op(
                "Record the true label of a scored record",
                _json({"type": "object", "required": ["request_id", "label"],
                       "properties": {"request_id": {"type": "string"}, "label": {},
                                      "row": {"type": "integer", "minimum": 0, "default": 0}}}),
                {"type": "object"}, secured=True, extra=("401", "413", "422"))},
            "/health": {"get": op("Liveness: the process answers")},
            "/ready": {"get": op("Readiness: 200 once a model is loaded and warmed, else 503", extra=("503",))},
            "/version": {"get": op("Project, model version, alias, training data version, strategy, candidate")},
            "/metrics": {"get": {"summary": "Prometheus metrics",
                                 "responses": {"200": {"description": "OK",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/admin/load": {"post": op(
                "Load a model: blue_green (warm, check, swap), canary (weight share) or shadow",
                _json({"type": "object", "required": ["model_uri"], "properties": {
                    "model_uri": {"type": "string"}, "version": {"type": "string"}, "alias": {"type": "string"},
                    "data_version": {"type": "string"},
                    "mode": {"enum": ["blue_green", "canary", "shadow"]},
                    "weight": {"type": "number", "minimum": 0, "maximum": 1}}}),
                {"type": "object"}, secured=True, extra=("401", "422"))},
            "/admin/promote": {"post": op("Make the candidate live", secured=True, extra=("401",))},
            "/admin/rollback": {"post": op("Drop the candidate, else swap back to the previous live model",
                                           secured=True, extra=("401",))},
            "/admin/status": {"get": op("Slots, strategy and counters", secured=True, extra=("401",))},
        },
    }
