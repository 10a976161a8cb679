"""Tests for the synthetic data generators: schema conformance, determinism, drift knobs, learnability."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import r2_score, roc_auc_score

from mlops_assets.data.generators.churn import generate_churn
from mlops_assets.data.generators.common import BatchRequest
from mlops_assets.data.generators.housing import generate_housing
from mlops_assets.data.generators.registry import generate_batch
from mlops_assets.spec import DriftWindow, GeneratorSource, NumericShift, load_spec

PROJECTS = Path(__file__).resolve().parents[2] / "projects"
DAY = datetime.date(2026, 3, 2)
NEXT_DAY = DAY + datetime.timedelta(days=1)
LABELS = {"churn": "churned", "housing": "price"}
BOUNDS = {name: load_spec(PROJECTS / f"{name}.yaml").schema.bounds() for name in LABELS}


def _as_its_project_calls_it(generate, name):
    """The generator, asked with the shipped spec's bounds (drifted columns are clipped to them)."""
    return lambda **request: generate(BatchRequest(**{"bounds": BOUNDS[name], **request}))


GENERATORS = {"churn": _as_its_project_calls_it(generate_churn, "churn"),
              "housing": _as_its_project_calls_it(generate_housing, "housing")}
PANDAS_DTYPES = {"int": "int64", "float": "float64", "str": "object", "category": "object", "bool": "bool",
                 "datetime": "datetime64[ns]"}  # fmt: skip
both = pytest.mark.parametrize("name", ["churn", "housing"])


def _window(**knobs) -> DriftWindow:
    return DriftWindow(start=DAY, **knobs)


def _inputs(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df.drop(columns=LABELS[name])


def _features(df: pd.DataFrame, name: str) -> pd.DataFrame:
    spec = load_spec(PROJECTS / f"{name}.yaml")
    dropped = [LABELS[name], spec.schema.id_column, spec.schema.event_time_column, "signup_date"]
    x = df.drop(columns=[c for c in dropped if c in df])
    return x.astype({c: "category" for c in x.columns if x[c].dtype == object})


# ---------------------------------------------------------------- schema
@both
def test_batch_conforms_to_the_yaml_schema(name):
    schema = load_spec(PROJECTS / f"{name}.yaml").schema
    df = GENERATORS[name](day=DAY, rows=5000, seed=3)

    assert list(df.columns) == list(schema.columns)
    assert len(df) == 5000
    for col, spec in schema.columns.items():
        values = df[col]
        assert str(values.dtype) == PANDAS_DTYPES[spec.dtype], col
        if spec.dtype in ("str", "category"):
            assert values.map(type).eq(str).all(), col
        if spec.categories:
            assert set(values) == set(spec.categories), col  # every category drawn, and only those
        if spec.min is not None:
            assert values.min() >= spec.min, col
        if spec.max is not None:
            assert values.max() <= spec.max, col
        if spec.unique:
            assert values.is_unique, col
        nulls = values.isna().mean()
        if spec.nullable:
            assert 0.002 < nulls <= schema.max_null_fraction, col
        else:
            assert nulls == 0, col
    times = df[schema.event_time_column]
    assert times.dt.tz is None
    assert times.min() >= pd.Timestamp(DAY) and times.max() < pd.Timestamp(NEXT_DAY)


def test_signup_precedes_the_event_and_matches_tenure():
    df = GENERATORS["churn"](day=DAY, rows=5000, seed=3)
    assert (df["signup_date"] <= df["event_time"]).all()
    months = (df["event_time"] - df["signup_date"]).dt.days / 30.4375
    assert (months.astype(int) - df["tenure_months"]).abs().max() <= 1
    assert df.loc[df["total_charges"].isna(), "tenure_months"].eq(0).all()  # only brand-new customers


@both
def test_ids_are_unique_across_days(name):
    id_col = load_spec(PROJECTS / f"{name}.yaml").schema.id_column
    first, second = (GENERATORS[name](day=d, rows=1000, seed=3)[id_col] for d in (DAY, NEXT_DAY))
    assert not set(first) & set(second)
    assert first.iloc[0] == f"{name[0].upper()}20260302-000001"


@both
def test_zero_rows_gives_an_empty_frame_with_the_schema_dtypes(name):
    empty = GENERATORS[name](day=DAY, rows=0, seed=3, drift=[_window(concept=0.5)])
    full = GENERATORS[name](day=DAY, rows=10, seed=3)
    assert empty.empty
    pd.testing.assert_series_equal(empty.dtypes, full.dtypes)


@both
def test_invalid_arguments_raise(name):
    with pytest.raises(ValueError, match="rows"):
        GENERATORS[name](day=DAY, rows=-1, seed=0)
    with pytest.raises(ValueError, match="seed"):
        GENERATORS[name](day=DAY, rows=10, seed=-1)
    with pytest.raises(ValueError, match="'nope': not a numeric column with a min and max"):
        GENERATORS[name](day=DAY, rows=10, drift=[_window(covariate={"nope": NumericShift(mean_shift=1)})])
    with pytest.raises(ValueError, match="not a category column"):
        GENERATORS[name](day=DAY, rows=10, drift=[_window(category_mix={"nope": {"a": 1.0}})])
    column = "region" if name == "churn" else "condition"
    with pytest.raises(ValueError, match="categories among"):
        GENERATORS[name](day=DAY, rows=10, drift=[_window(category_mix={column: {"nowhere": 1.0}})])


def test_a_covariate_shift_needs_the_schema_bounds_and_an_input_column():
    shift = [_window(covariate={"tenure_months": NumericShift(mean_shift=1)})]
    with pytest.raises(ValueError, match="'tenure_months': no bounds given: pass the project's"):
        generate_churn(BatchRequest(day=DAY, rows=10, drift=shift))  # no bounds given: nothing to clip the drifted values to
    with pytest.raises(ValueError, match=r"\['churned'\]: the churn generator does not draw it as an input"):
        GENERATORS["churn"](day=DAY, rows=10, drift=[_window(covariate={"churned": NumericShift(mean_shift=1)})])


def test_drifted_values_stay_within_the_bounds_given():
    tight = {**BOUNDS["churn"], "monthly_charges": (20.0, 80.0)}
    drift = [_window(covariate={"monthly_charges": NumericShift(mean_shift=3.0)})]
    charges = generate_churn(BatchRequest(day=DAY, rows=2000, seed=2, drift=drift, bounds=tight))["monthly_charges"]
    assert charges.between(20.0, 80.0).all() and charges.max() == 80.0


# ---------------------------------------------------------------- determinism and dispatch
@both
def test_same_seed_and_day_give_identical_batches(name):
    drift = [_window(covariate={"price" if name == "housing" else "tenure_months": NumericShift(mean_shift=0.3)})]
    first = GENERATORS[name](day=DAY, rows=2000, seed=11, drift=drift)
    pd.testing.assert_frame_equal(first, GENERATORS[name](day=DAY, rows=2000, seed=11, drift=drift))


@both
@pytest.mark.parametrize("other", [{"seed": 12}, {"day": NEXT_DAY}])
def test_seed_or_day_change_the_data(name, other):
    base = {"day": DAY, "rows": 2000, "seed": 11}
    first, second = GENERATORS[name](**base), GENERATORS[name](**(base | other))
    numeric = first.select_dtypes("number").columns
    assert (first[numeric].to_numpy() != second[numeric].to_numpy()).mean() > 0.5


@both
def test_generate_batch_dispatches_with_source_defaults_and_overrides(name):
    drift = [_window(concept=1.0)]
    source = GeneratorSource(kind="generator", generator=name, seed=5, rows_per_day=300, drift=drift)
    pd.testing.assert_frame_equal(generate_batch(source, DAY), GENERATORS[name](day=DAY, rows=300, seed=5, drift=drift))
    overridden = generate_batch(source, DAY, rows=50, seed=6, drift=[])
    pd.testing.assert_frame_equal(overridden, GENERATORS[name](day=DAY, rows=50, seed=6))


@both
def test_windows_apply_only_on_their_days(name):
    column = "sqft" if name == "housing" else "tenure_months"
    future = DriftWindow(start=NEXT_DAY, concept=1.0, covariate={column: NumericShift(mean_shift=2.0)})
    past = DriftWindow(start=DAY - datetime.timedelta(days=5), end=DAY - datetime.timedelta(days=1), concept=1.0)
    plain = GENERATORS[name](day=DAY, rows=500, seed=1)
    pd.testing.assert_frame_equal(plain, GENERATORS[name](day=DAY, rows=500, seed=1, drift=[future, past]))


# ---------------------------------------------------------------- drift knobs
@pytest.mark.parametrize(
    "name, column",
    [(name, c) for name in LABELS for c in BOUNDS[name] if c != "churned"],  # churn's label takes label_rate
)
def test_covariate_shift_moves_every_numeric_column_by_the_requested_sigma(name, column):
    base = GENERATORS[name](day=DAY, rows=20000, seed=2)[column]
    drift = [_window(covariate={column: NumericShift(mean_shift=0.5)})]
    shifted = GENERATORS[name](day=DAY, rows=20000, seed=2, drift=drift)[column]
    assert shifted.dtype == base.dtype
    moved = (shifted.mean() - base.mean()) / base.std()
    assert 0.4 < moved < 0.6  # clipping to the schema range may take a little off


@pytest.mark.parametrize("name, column", [("churn", "monthly_charges"), ("housing", "year_built")])
@pytest.mark.parametrize("mean_shift, scale", [(-1.0, 1.0), (1.0, 0.5), (0.0, 1.5)])
def test_covariate_shift_and_scale(name, column, mean_shift, scale):
    base = GENERATORS[name](day=DAY, rows=20000, seed=2)[column]
    drift = [_window(covariate={column: NumericShift(mean_shift=mean_shift, scale=scale)})]
    shifted = GENERATORS[name](day=DAY, rows=20000, seed=2, drift=drift)[column]
    assert (shifted.mean() - base.mean()) / base.std() == pytest.approx(mean_shift, abs=0.1)
    assert shifted.std() / base.std() == pytest.approx(scale, rel=0.1)


def test_covariate_shift_is_applied_before_the_label():
    drift = [_window(covariate={"support_calls": NumericShift(mean_shift=2.0)})]
    base = GENERATORS["churn"](day=DAY, rows=20000, seed=2)
    shifted = GENERATORS["churn"](day=DAY, rows=20000, seed=2, drift=drift)
    assert shifted["churned"].mean() > base["churned"].mean() + 0.05  # more calls -> more churn
    assert (shifted["total_charges"].fillna(-1) == base["total_charges"].fillna(-1)).all()  # upstream untouched


@pytest.mark.parametrize(
    "name, column, mix",
    [
        ("churn", "contract", {"two_year": 1.0}),
        ("churn", "region", {"north": 1.0, "south": 3.0}),
        ("housing", "neighborhood", {"downtown": 0.5, "lakeside": 0.5}),
        ("housing", "condition", {"poor": 0.7, "excellent": 0.3}),
    ],
)
def test_category_mix_resamples_the_column(name, column, mix):
    drift = [_window(category_mix={column: mix})]
    shares = GENERATORS[name](day=DAY, rows=20000, seed=4, drift=drift)[column].value_counts(normalize=True)
    total = sum(mix.values())
    assert set(shares.index) == set(mix)
    for category, weight in mix.items():
        assert shares[category] == pytest.approx(weight / total, abs=0.015)


def test_category_mix_leaves_other_draws_alone():
    drift = [_window(category_mix={"region": {"west": 1.0}})]
    base, mixed = (GENERATORS["churn"](day=DAY, rows=3000, seed=4, drift=d) for d in (None, drift))
    assert (mixed["region"] == "west").all()
    rest = base.columns.drop(["region", "churned"])
    pd.testing.assert_frame_equal(base[rest], mixed[rest])


@pytest.mark.parametrize("rate", [0.05, 0.15, 0.5, 0.8])
@pytest.mark.parametrize("concept", [0.0, 1.0])
def test_label_rate_sets_the_churn_rate(rate, concept):
    base = GENERATORS["churn"](day=DAY, rows=20000, seed=8)
    drifted = GENERATORS["churn"](day=DAY, rows=20000, seed=8, drift=[_window(label_rate=rate, concept=concept)])
    assert drifted["churned"].mean() == pytest.approx(rate, abs=0.02)
    pd.testing.assert_frame_equal(_inputs(base, "churn"), _inputs(drifted, "churn"))  # prior shift only


def test_base_churn_rate_is_realistic():
    assert 0.2 <= GENERATORS["churn"](day=DAY, rows=20000, seed=8)["churned"].mean() <= 0.3


def test_label_rate_does_not_apply_to_housing():
    with pytest.raises(ValueError, match="label_rate"):
        GENERATORS["housing"](day=DAY, rows=10, drift=[_window(label_rate=0.3)])


def test_concept_drift_changes_churn_labels_not_inputs():
    base = GENERATORS["churn"](day=DAY, rows=20000, seed=9)
    pd.testing.assert_frame_equal(base, GENERATORS["churn"](day=DAY, rows=20000, seed=9, drift=[_window(concept=0.0)]))
    drifted = GENERATORS["churn"](day=DAY, rows=20000, seed=9, drift=[_window(concept=1.0)])
    pd.testing.assert_frame_equal(_inputs(base, "churn"), _inputs(drifted, "churn"))
    assert (base["churned"] != drifted["churned"]).mean() > 0.2
    assert drifted["churned"].mean() == pytest.approx(base["churned"].mean(), abs=0.02)
    by_contract = drifted.groupby("contract")["churned"].mean()
    assert by_contract["two_year"] > by_contract["month_to_month"]  # a driver flipped


def test_concept_drift_changes_housing_prices_not_inputs():
    base = GENERATORS["housing"](day=DAY, rows=20000, seed=9)
    drifted = GENERATORS["housing"](day=DAY, rows=20000, seed=9, drift=[_window(concept=1.0)])
    pd.testing.assert_frame_equal(_inputs(base, "housing"), _inputs(drifted, "housing"))
    assert np.corrcoef(np.log(base["price"]), np.log(drifted["price"]))[0, 1] < 0.8
    assert drifted["price"].median() == pytest.approx(base["price"].median(), rel=0.15)
    before, after = (df.groupby("neighborhood")["price"].median() for df in (base, drifted))
    assert before["suburbs"] < before["downtown"] and after["suburbs"] > after["downtown"]  # premiums reshuffled


# ---------------------------------------------------------------- learnability
def test_churn_label_is_learnable_and_concept_drift_breaks_the_model():
    train, test = (GENERATORS["churn"](day=d, rows=20000, seed=42) for d in (DAY, NEXT_DAY))
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(_features(train, "churn"), train["churned"])
    auc = roc_auc_score(test["churned"], model.predict_proba(_features(test, "churn"))[:, 1])
    assert 0.7 < auc < 0.95

    drifted = GENERATORS["churn"](day=NEXT_DAY, rows=20000, seed=42, drift=[_window(concept=1.0)])
    drifted_auc = roc_auc_score(drifted["churned"], model.predict_proba(_features(drifted, "churn"))[:, 1])
    assert drifted_auc < auc - 0.15


def test_housing_price_is_learnable():
    train, test = (GENERATORS["housing"](day=d, rows=20000, seed=42) for d in (DAY, NEXT_DAY))
    model = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0)
    model.fit(_features(train, "housing"), train["price"])
    assert 0.7 < r2_score(test["price"], model.predict(_features(test, "housing"))) < 0.95
