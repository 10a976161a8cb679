"""The request fast paths give exactly what the general paths give: compiled preprocessing, plain records, concat."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_assets.features.transforms import build_features
from mlops_assets.serving.batching import concat_rows
from mlops_assets.serving.compiled import compile_column_transformer, compile_pipeline
from mlops_assets.serving.contract import Contract, ContractError, Validated
from mlops_assets.serving.models import LoadedModel, ModelInfo
from mlops_assets.training.estimators import build_pipeline, split_columns
from mlops_assets_tests.serving.helpers import _pipeline, churn_raw, churn_spec, records


def _training_pipeline(estimator: str):
    spec = churn_spec()
    raw = churn_raw(600, seed=11)
    feats = build_features(spec, raw)
    numeric, categorical = split_columns(feats, list(spec.features.columns))
    return build_pipeline("classification", estimator, {}, 0, numeric, categorical).fit(feats, raw["churned"])


@pytest.fixture(scope="module")
def pipelines():
    spec = churn_spec()
    raw = churn_raw(600, seed=11)
    feats, y = build_features(spec, raw), raw["churned"].to_numpy()
    return {"platform hgb": _training_pipeline("hist_gradient_boosting"),
            "platform logreg": _training_pipeline("logistic_regression"),
            "ordinal + passthrough hgb": _pipeline("hgb").fit(feats, y),
            "onehot + scaler logreg": _pipeline("logreg").fit(feats, y)}


@pytest.mark.parametrize("name", ["platform hgb", "platform logreg", "ordinal + passthrough hgb"])
def test_compiled_preprocessing_is_bit_identical(pipelines, name):
    pipe = pipelines[name]
    contract = Contract(churn_spec())
    feats = contract.features(contract.validate(pd.DataFrame(records(churn_raw(500, seed=12)))).raw)
    assert feats["total_charges_filled"].notna().all()
    transform, final = compile_pipeline(pipe)
    x = transform(feats)
    assert np.array_equal(x, np.asarray(pipe[:-1].transform(feats), dtype="float64"))
    assert np.array_equal(final.predict_proba(x), pipe.predict_proba(feats))
    model = LoadedModel(pipe, ModelInfo("churn", "m", "1"), "classification")
    sample = contract.features(contract.validate(pd.DataFrame(contract.sample_records())).raw)
    model.check(sample)
    assert model.fast
    for rows in (feats.iloc[:1], feats.iloc[3:11], feats):
        fast = model.predict(rows)
        model.fast = False
        slow = model.predict(rows)
        model.fast = True
        assert all(np.array_equal(a, b) for a, b in zip(fast, slow))


def test_compiled_preprocessing_leaves_what_it_does_not_cover_to_the_pipeline(pipelines):
    pipe = pipelines["platform hgb"]
    model = LoadedModel(pipe, ModelInfo("churn", "m", "1"), "classification")
    contract = Contract(churn_spec())
    feats = contract.features(contract.validate(pd.DataFrame(contract.sample_records())).raw)
    model.check(feats)
    odd = feats.copy()
    odd.loc[0, "region"] = "atlantis"  # unknown category: OneHotEncoder(handle_unknown="ignore") decides
    assert model._compiled[0](odd) is None
    assert all(np.array_equal(a, b) for a, b in zip(model.predict(odd), LoadedModel(
        pipe, ModelInfo("churn", "m", "1"), "classification").predict(odd)))
    odd.loc[1, "usage_minutes"] = np.inf  # the pipeline raises on infinities: so must we
    with pytest.raises(ValueError):
        model.predict(odd)
    assert compile_pipeline(pipe[-1]) is None  # not a [ColumnTransformer, estimator] pipeline
    assert compile_pipeline(pipelines["onehot + scaler logreg"]) is None  # sparse one-hot output: not covered


def test_pandas_output_and_infrequent_categories_are_left_to_the_pipeline_and_logged(caplog):
    """Both are read from the fitted state (the output container through scikit-learn's one private getter):
    what is not covered says why in the log."""
    import logging

    from sklearn.base import clone

    spec = churn_spec()
    raw = churn_raw(300, seed=11)
    feats, y = build_features(spec, raw), raw["churned"].to_numpy()
    base = _training_pipeline("logistic_regression")
    pandas_out = clone(base)
    pandas_out[0].set_output(transform="pandas")
    infrequent = clone(base)
    encoders = [t for _, t, _ in infrequent[0].transformers if hasattr(t, "set_params")]
    assert encoders
    for step in encoders:
        if "max_categories" in step.get_params():
            step.set_params(max_categories=2)  # features with more categories get an infrequent bucket
    with caplog.at_level(logging.INFO, logger="mlops_assets.serving.compiled"):
        assert compile_column_transformer(pandas_out.fit(feats, y)[0]) is None
        assert "pandas/polars output" in caplog.text
        caplog.clear()
        assert compile_pipeline(infrequent.fit(feats, y)) is None
        assert "infrequent categories" in caplog.text
    assert compile_pipeline(clone(base).fit(feats, y)) is not None


def test_a_compiled_path_that_disagrees_is_not_used(pipelines):
    pipe = pipelines["platform hgb"]
    model = LoadedModel(pipe, ModelInfo("churn", "m", "1"), "classification")
    transform, final = model._compiled
    model._compiled = (lambda frame: transform(frame) + 1e-9, final)
    contract = Contract(churn_spec())
    model.check(contract.features(contract.validate(pd.DataFrame(contract.sample_records())).raw))
    assert not model.fast


def _same(a, b) -> None:
    assert a.warnings == b.warnings
    pd.testing.assert_frame_equal(a.raw, b.raw)


def test_plain_records_validate_exactly_like_the_frame():
    contract = Contract(churn_spec())
    good = records(churn_raw(20, seed=13))
    for rows in ([good[0]], good[:8], [dict(r, extra_field=1) for r in good[:3]],
                 [dict(r, monthly_charges=int(r["monthly_charges"])) for r in good[:2]],  # ints in a float field
                 [dict(r, total_charges=None) for r in good[:2]],  # nullable field, null: the frame path
                 good):
        _same(contract.validate_records(rows), contract.validate(pd.DataFrame(rows)))
    assert contract._plain([good[0]]) is not None


@pytest.mark.parametrize("change", [{"tenure_months": 1.5}, {"tenure_months": True}, {"tenure_months": 500},
                                    {"region": "atlantis"}, {"senior_citizen": 1}, {"monthly_charges": None},
                                    {"monthly_charges": float("inf")}, {"tenure_months": 2**70}])
def test_bad_records_fail_exactly_like_the_frame(change):
    contract = Contract(churn_spec())
    rows = records(churn_raw(3, seed=14))
    rows[1].update(change)
    assert contract._plain(rows) is None
    with pytest.raises(ContractError) as fast:
        contract.validate_records(rows)
    with pytest.raises(ContractError) as slow:
        contract.validate(pd.DataFrame(rows))
    assert fast.value.problems == slow.value.problems


def test_missing_field_takes_the_frame_path():
    contract = Contract(churn_spec())
    rows = records(churn_raw(2, seed=15))
    del rows[0]["region"]
    with pytest.raises(ContractError) as err:
        contract.validate_records(rows)
    assert err.value.problems[0]["field"] == "region"


def test_concat_rows_matches_pandas():
    contract = Contract(churn_spec())
    frames = [contract.validate_records(records(churn_raw(k, seed=k))).raw for k in (1, 3, 2)]
    pd.testing.assert_frame_equal(concat_rows(frames), pd.concat(frames, ignore_index=True))
    nullable = contract.validate(pd.DataFrame([dict(records(churn_raw(1, seed=1))[0], total_charges=None)])).raw
    mixed = [frames[0], frames[1].iloc[1:], nullable]
    pd.testing.assert_frame_equal(concat_rows(mixed), pd.concat(mixed, ignore_index=True))


def test_concat_rows_from_the_validated_arrays_matches_pandas():
    contract = Contract(churn_spec())
    rows = records(churn_raw(40, seed=21))
    rows[5]["total_charges"] = None  # the frame path (a null): its plain numpy columns are kept too (NaN)
    checked = [contract.validate_records([r]) for r in rows]
    assert all(c.columns is not None for c in checked) and np.isnan(checked[5].columns["total_charges"][0])
    checked[6] = Validated(checked[6].raw, checked[6].warnings)  # one request without arrays: read back
    for c in checked[:3]:  # the arrays are the frame's own columns
        assert list(c.columns) == list(c.raw.columns)
        assert all(c.raw[k].dtype == v.dtype and c.raw[k].tolist() == v.tolist() for k, v in c.columns.items())
    for batch in (checked[:8], checked[:1] + checked[9:16], checked[2:10], checked):
        frames, known = [c.raw for c in batch], [c.columns for c in batch]
        pd.testing.assert_frame_equal(concat_rows(frames, known), pd.concat(frames, ignore_index=True),
                                      check_exact=True)


@pytest.fixture
def one_thread():
    """scikit-learn's OpenMP on one thread: on a loaded 2-core machine its spinning threads slow fits tenfold."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _matrix(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features with missing values and ties on thresholds (integers), a noisy target."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 5, n).astype("float64"), rng.exponential(size=n)])
    x[rng.random((n, 3)) < 0.1] = np.nan
    y = np.nan_to_num(x[:, 0]) + 0.3 * np.nan_to_num(x[:, 1]) + rng.normal(scale=0.5, size=n)
    return x, y


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_tree_walk_is_bit_identical_to_scikit_learn(task, one_thread):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from mlops_assets.serving.compiled import TREE_WALK_MAX_ROWS, TreeWalk, compile_trees

    x, y = _matrix(3000, seed=5)
    if task == "classification":
        model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(x, y > 0.5)
    else:
        model = HistGradientBoostingRegressor(max_iter=60, max_depth=None, random_state=0).fit(x, y)
    walk = compile_trees(model)
    assert isinstance(walk, TreeWalk) and walk.levels >= 2
    test, _ = _matrix(400, seed=6)
    test[0] = np.nan  # a row with every feature missing
    for n in (1, 2, 7, TREE_WALK_MAX_ROWS, TREE_WALK_MAX_ROWS + 1, 400):
        rows = test[:n]
        assert np.array_equal(walk.predict(rows), model.predict(rows))
        if task == "classification":
            assert np.array_equal(walk.predict_proba(rows), model.predict_proba(rows))
    assert np.array_equal(walk.raw(test), model._raw_predict(test))  # the walk itself, beyond its batch size


def test_tree_walk_leaves_categorical_splits_and_multiclass_to_scikit_learn(one_thread):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mlops_assets.serving.compiled import compile_trees

    x, y = _matrix(1000, seed=7)
    x[:, 1] = np.nan_to_num(x[:, 1])
    categorical = HistGradientBoostingClassifier(max_iter=10, categorical_features=[1], random_state=0)
    assert compile_trees(categorical.fit(x, x[:, 1] > 2)) is None
    three = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(x, np.digitize(y, [-0.5, 0.5]))
    assert compile_trees(three) is None
