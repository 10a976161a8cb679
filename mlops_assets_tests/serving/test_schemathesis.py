"""Schemathesis against the generated OpenAPI document of a live churn server (real model, real HTTP on 127.0.0.1):
schema-valid and schema-violating requests to every route, without and with a bearer token; no answer is a 5xx,
every status code is documented and every response matches its documented schema, content type and headers."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

TOKEN_ENV = "MLOPS_SCHEMATHESIS_TOKEN"
TOKEN = "st-token-9b2e"


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance, response_headers_conformance, response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
            response_schema_conformance]


def fuzz(base: str, headers: dict, modes: tuple[str, ...], examples: int,
         only: str | None = None) -> tuple[Counter, list[str]]:
    """Run ``examples`` generated cases per operation and mode (operations on path ``only``, if given);
    return (cases per operation, failures)."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.generation.modes import GenerationMode

    # from_dict, not from_url: from_url leaves out the document's own route
    schema = schemathesis.openapi.from_dict(requests.get(f"{base}/openapi.json", timeout=30).json())
    checks = _checks()
    counts: Counter = Counter()
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        op = result.ok()
        if only is not None and op.path != only:
            continue
        for mode in modes:
            strategy = op.as_strategy(generation_mode=GenerationMode(mode))

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                counts[f"{op.method.upper()} {op.path}"] += 1
                try:
                    case.call_and_validate(base_url=base, session=session, headers=headers, checks=checks,
                                           timeout=60)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as err:  # failed checks (a group): collect them all (no shrinking), report at end
                    failures.append(f"{mode} {op.method.upper()} {op.path}: {type(err).__name__}: "
                                    f"{str(err)[:600]}\n    body={str(case.body)[:300]!r}")

            try:
                run()
            except Exception as err:  # e.g. a negative case cannot be generated for a route without inputs
                if "Unsatisfiable" not in type(err).__name__ and "negative" not in str(err).lower():
                    raise
    return counts, failures


def _report(counts: Counter, failures: list[str]) -> str:
    return f"{sum(counts.values())} cases, {len(failures)} failures:\n" + "\n".join(failures[:25])


ROUTES = 13


def test_schemathesis_open_server(serve):
    with serve() as (base, app):
        counts, failures = fuzz(base, {}, ("positive", "negative"), examples=100)
        # the harness bites: with 422 left out of /predict's document, the contract's 422s are reported
        server = app.state.server
        doc = requests.get(f"{base}/openapi.json", timeout=10).json()
        del doc["paths"]["/predict"]["post"]["responses"]["422"]
        server._openapi = doc
        _, caught = fuzz(base, {}, ("negative",), examples=30, only="/predict")
    print(f"schemathesis, open server: {sum(counts.values())} cases over {len(counts)} operations")
    assert failures == [], _report(counts, failures)
    assert len(counts) == ROUTES, counts  # every route of the document was exercised
    assert sum(counts.values()) >= 750, counts
    assert caught and all("/predict" in f for f in caught), caught


def test_schemathesis_with_and_without_token(serve, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with serve(token_env=TOKEN_ENV) as (base, _):
        with_token, failures = fuzz(base, {"Authorization": f"Bearer {TOKEN}"}, ("positive", "negative"), examples=35)
        without, more = fuzz(base, {}, ("positive", "negative"), examples=12)
        r = requests.post(f"{base}/predict", json={"records": []}, timeout=10)
        assert r.status_code == 401  # the unauthenticated run was refused, not scored
    failures += more
    total = with_token + without
    print(f"schemathesis, token server: {sum(with_token.values())} cases with the token, "
          f"{sum(without.values())} without")
    assert failures == [], _report(total, failures)
    assert len(with_token) == len(without) == ROUTES
    assert sum(total.values()) >= 400, total
