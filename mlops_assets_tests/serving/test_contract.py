"""The request contract: required fields from the spec, typed checks naming record and field, feature parity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops_assets.features import churn
from mlops_assets.features.transforms import build_features
from mlops_assets.serving.contract import Contract, ContractError, required_columns
from mlops_assets.spec import load_spec
from mlops_assets_tests.serving.helpers import PROJECTS, churn_raw, churn_spec, records


@pytest.fixture(scope="module")
def contract():
    return Contract(churn_spec())


@pytest.fixture(scope="module")
def good():
    return records(churn_raw(6, seed=3))


def test_required_fields_follow_the_feature_function_and_passthrough():
    assert required_columns(churn_spec()) == churn.INPUT_COLUMNS
    housing = load_spec(PROJECTS / "housing.yaml")
    assert required_columns(housing) == housing.features.columns


def test_valid_records_pass_with_training_dtypes(contract, good):
    out = contract.validate(pd.DataFrame(good))
    assert list(out.raw.columns) == churn.INPUT_COLUMNS
    assert out.raw["tenure_months"].dtype == "int64" and out.raw["senior_citizen"].dtype == bool
    assert out.raw["total_charges"].dtype == "float64"
    assert out.warnings == []


def test_unknown_fields_are_ignored_with_a_warning_and_known_unused_ones_silently(contract, good):
    rows = [dict(r, customer_id="C1", favourite_colour="red") for r in good]
    out = contract.validate(pd.DataFrame(rows))
    assert out.warnings == ["ignored unknown fields: ['favourite_colour']"]
    assert "favourite_colour" not in out.raw.columns and "customer_id" not in out.raw.columns


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("tenure_months", 500, "must be <= 120, got 500"),
        ("tenure_months", -1, "must be >= 0, got -1"),
        ("tenure_months", 3.5, "must be an integer, got 3.5"),
        ("tenure_months", "ten", "must be an integer, got 'ten'"),
        ("tenure_months", True, "must be an integer, got True"),
        ("tenure_months", 2**70, "must be an integer"),
        ("tenure_months", None, "is required: missing or null"),
        ("monthly_charges", "12.5", "must be a number, got '12.5'"),
        ("monthly_charges", 300.01, "must be <= 300, got 300.01"),
        ("monthly_charges", [1], "must be a number, got [1]"),
        ("senior_citizen", "yes", "must be true or false, got 'yes'"),
        ("senior_citizen", 1, "must be true or false, got 1"),
        ("contract", "weekly", "unknown category 'weekly'"),
        ("contract", 3, "must be a string, got 3"),
        ("region", None, "is required: missing or null"),
    ],
)
def test_bad_value_names_record_field_and_problem(contract, good, field, value, message):
    rows = [dict(r) for r in good]
    rows[3][field] = value
    with pytest.raises(ContractError) as err:
        contract.validate(pd.DataFrame(rows))
    assert len(err.value.problems) == 1
    problem = err.value.problems[0]
    assert (problem["record"], problem["field"]) == (3, field)
    assert message in problem["error"]


def test_nullable_field_accepts_null_and_missing_key(contract, good):
    rows = [dict(r) for r in good]
    rows[0]["total_charges"] = None
    del rows[1]["total_charges"]
    out = contract.validate(pd.DataFrame(rows))
    assert out.raw["total_charges"].isna().tolist()[:2] == [True, True]


def test_missing_field_everywhere_and_in_one_record(contract, good):
    rows = [{k: v for k, v in r.items() if k != "late_payments"} for r in good]
    with pytest.raises(ContractError) as err:
        contract.validate(pd.DataFrame(rows))
    assert err.value.problems == [{"record": None, "field": "late_payments",
                                   "error": "missing required field (in every record)"}]
    rows = [dict(r) for r in good]
    del rows[2]["usage_minutes"]
    with pytest.raises(ContractError) as err:
        contract.validate(pd.DataFrame(rows))
    assert err.value.problems == [{"record": 2, "field": "usage_minutes", "error": "is required: missing or null"}]


def test_many_problems_are_capped_but_counted(contract, good):
    rows = [dict(good[0], tenure_months=999) for _ in range(300)]
    with pytest.raises(ContractError) as err:
        contract.validate(pd.DataFrame(rows))
    assert len(err.value.problems) == 100 and err.value.total == 300


def test_label_check_and_example_record(contract):
    assert contract.check_value("churned", 1) == []
    assert "must be <= 1" in contract.check_value("churned", 2)[0]["error"]
    assert contract.validate(pd.DataFrame([contract.example_record()])).raw.shape == (1, len(churn.INPUT_COLUMNS))


def test_serving_features_equal_training_features(contract):
    """The same raw rows: build_features on the training frame vs JSON -> contract -> features (the server's path)."""
    spec = churn_spec()
    raw = churn_raw(300, seed=11)
    raw.loc[raw.index[:5], "total_charges"] = np.nan  # new customers: the nullable path
    direct = build_features(spec, raw)
    served = contract.features(contract.validate(pd.DataFrame(json.loads(json.dumps(records(raw))))).raw)
    pd.testing.assert_frame_equal(served.reset_index(drop=True), direct.reset_index(drop=True), check_exact=True)
    # the micro-batcher concatenates requests validated one by one before building features
    singles = [contract.validate(pd.DataFrame(records(raw.iloc[[i]]))).raw for i in range(20)]
    batched = contract.features(pd.concat(singles, ignore_index=True))
    pd.testing.assert_frame_equal(batched, direct.iloc[:20].reset_index(drop=True), check_exact=True)
    # one row at a time gives the same values as the batch
    one = contract.features(contract.validate(pd.DataFrame(records(raw.iloc[[7]])).reset_index(drop=True)).raw)
    pd.testing.assert_frame_equal(one.reset_index(drop=True), direct.iloc[[7]].reset_index(drop=True),
                                  check_exact=True)
