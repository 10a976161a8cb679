"""Errors that used to surface only when a run reached them fail when the spec loads: file, line, field and a hint.

Each case edits the shipped churn spec's text (so the YAML lines are real) and loads it with `load_spec`, and
`mlops-assets check` prints the same problems as `file:line: field: message` with a non-zero exit.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from mlops_assets.cli import main
from mlops_assets.spec import SpecError, load_spec
from mlops_assets.training.estimator_params import PARAMS, read_from_sklearn
from mlops_assets.training.estimators import ESTIMATORS

SHIPPED = Path(__file__).resolve().parents[1] / "projects" / "churn.yaml"


def _edited(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """The shipped churn spec with `old` replaced by `new` once, and the 1-based line of the edit."""
    text = SHIPPED.read_text()
    assert text.count(old) == 1, old
    file = tmp_path / "churn.yaml"
    file.write_text(text.replace(old, new))
    return file, text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize("old, new, field, words", [
    ("estimator: hist_gradient_boosting", "estimator: xgboost", "training.estimator",
     ["unknown estimator 'xgboost'", "choose one of", "'hist_gradient_boosting'"]),
    ("estimator: hist_gradient_boosting", "estimator: ridge", "training.estimator",
     ["does not support classification", "'logistic_regression'"]),
    ("estimator: hist_gradient_boosting", "estimator: hist_gradient_boosting\n  params: {max_iters: 50}",
     "training.params.max_iters", ["not a parameter of HistGradientBoostingClassifier", "did you mean 'max_iter'?"]),
    ("primary_metric: roc_auc", "primary_metric: auc", "evaluation.primary_metric",
     ["unknown classification metric 'auc'", "'roc_auc'"]),
    ("thresholds: {roc_auc: 0.70}", "thresholds: {roc_auc: 0.70, rmse: 3}", "evaluation.thresholds.rmse",
     ["unknown classification metric 'rmse'", "'pr_auc'"]),
    ("segment_columns: [region, contract]", "segment_columns: [region, colour]", "training.segment_columns",
     ["['colour'] are not among schema.columns"]),
    ("categories: [dsl, fiber, none]", "categories: [no, yes]", "schema.columns.internet_service",
     ["YAML read unquoted yes/no", 'quote them, e.g. categories: ["no", "yes"]']),
])
def test_a_late_error_fails_at_load_with_file_line_field_and_hint(tmp_path, old, new, field, words):
    file, line = _edited(tmp_path, old, new)
    line += new.count("\n")  # the field's own line
    with pytest.raises(SpecError) as err:
        load_spec(file)
    message = str(err.value)
    assert f"{file}:{line}: field '{field}': " in message, message
    for w in words:
        assert w in message, message
    assert "<root>" not in message


def test_a_feature_named_like_a_prediction_log_column_is_refused_at_load():
    from mlops_assets.spec import parse_spec
    from mlops_assets_tests.helpers import spec_dict

    data = spec_dict("housing")
    assert data["features"]["kind"] == "passthrough"
    data["schema"]["columns"]["score"] = {"dtype": "float", "nullable": True}
    data["features"]["columns"] = [*data["features"]["columns"], "score"]
    with pytest.raises(SpecError, match=r"field 'features.columns': \['score'\] are named like the prediction log"):
        parse_spec(data)


def test_a_positive_class_that_is_no_class_is_named(tmp_path):
    file, line = _edited(tmp_path, "  column: churned", "  column: churned\n  positive_class: 2")
    with pytest.raises(SpecError, match=rf"churn.yaml:{line + 1}: field 'target.positive_class': 2 is not a class of the 0/1"):
        load_spec(file)


def test_check_prints_each_problem_as_file_line_field_and_exits_non_zero(tmp_path, capsys):
    good = tmp_path / "good"
    good.mkdir()
    (good / "churn.yaml").write_text(SHIPPED.read_text())
    assert main(["check", str(good)]) == 0
    assert "1 of 1 spec(s) valid" in capsys.readouterr().out

    file, line = _edited(tmp_path, "primary_metric: roc_auc", "primary_metric: auc")
    assert main(["check", str(file), str(good / "churn.yaml")]) == 1
    out = capsys.readouterr()
    assert out.err.splitlines()[0].startswith(f"{file}:{line}: field 'evaluation.primary_metric': unknown")
    assert "Traceback" not in out.err and "1 of 2 spec(s) valid" in out.out


def test_the_estimator_parameter_table_matches_the_installed_scikit_learn():
    assert PARAMS == read_from_sklearn()
    for by_task in ESTIMATORS.values():  # and every allow-listed class is in it
        for path in by_task.values():
            module, _, name = path.rpartition(".")
            cls = getattr(importlib.import_module(module), name)
            assert set(PARAMS[path]) == set(inspect.signature(cls).parameters)
