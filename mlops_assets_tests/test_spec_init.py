"""`mlops-assets init`: a spec inferred from a CSV sample, and a project from it that runs without edits."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import yaml
from dagster import instance_for_test, materialize

from mlops_assets.cli import main
from mlops_assets.data.schema import validate_batch
from mlops_assets.data.sources import read_landing_file
from mlops_assets.definitions import build_definitions, default_resources, local_tracking_uri, projects_dir
from mlops_assets.ingestion import ingest_range
from mlops_assets.project_assets import build_model_assets
from mlops_assets.resources.tracking import CHAMPION
from mlops_assets.spec import load_spec, load_specs, parse_spec
from mlops_assets.spec_init import InitError, infer_spec, numeric_range, split_landing, typed_column, write_spec

from .helpers import CSV_DAYS as DAYS
from .helpers import CSV_ROWS_PER_DAY as ROWS_PER_DAY
from .helpers import churn_like_csv


def text_frame(**columns) -> pd.DataFrame:
    """Columns of text, as `read_csv_text` gives them (None = an empty cell)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})


def base(n: int = 8, **extra) -> pd.DataFrame:
    """n rows over two days: an id, an event time, a numeric feature, a 0/1 target, plus `extra` columns."""
    cols = {
        "id": [f"r{i}" for i in range(n)],
        "event_time": [f"2026-02-0{1 + i * 2 // n} 0{i % 10}:00:00" for i in range(n)],
        "x": [str(i) for i in range(n)],
        "y": [str(i % 2) for i in range(n)],
    }
    return text_frame(**{**cols, **extra})


def columns(spec: dict) -> dict:
    return spec["schema"]["columns"]


# ---------------------------------------------------------------- dtypes, nulls, ranges, categories
@pytest.mark.parametrize("values, dtype", [
    (["1", "-2", None], "int"),
    (["1.5", "2", "1e3"], "float"),
    (["True", "false", "TRUE"], "bool"),
    (["2026-01-01", "2026-01-02T10:00:00", None], "datetime"),
    (["a", "1", "2026-01-01"], "str"),
    (["yes", "no"], "str"),  # not a bool: pandas reads yes/no as text
])
def test_text_columns_are_typed_as_the_file_spells_them(values, dtype):
    assert typed_column(pd.Series(values, dtype=object))[0] == dtype


def test_typed_frames_keep_their_dtypes():
    frame = pd.DataFrame({"i": [1, 2], "f": [0.5, 1.0], "b": [True, False],
                          "t": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    assert [typed_column(frame[c])[0] for c in frame] == ["int", "float", "bool", "datetime"]


def test_nullable_ranges_and_categories():
    frame = base(8, count=["0", "4", None, "2", "1", "3", "2", "1"], temp=["-3.5", "1.5"] * 4,
                 plan=["a", "b", "a", "b", "c", "a", "b", "a"], flag=["true", "false"] * 4)
    spec, notes = infer_spec(frame, "demo", "y")
    cols = columns(spec)
    assert cols["count"] == {"dtype": "int", "min": 0, "max": 6, "nullable": True}  # 0..4 +- 2, floored at 0
    assert cols["temp"] == {"dtype": "float", "min": -6.0, "max": 4.0}  # span 5 -> +- 2.5, negative allowed
    assert cols["plan"] == {"dtype": "category", "categories": ["a", "b", "c"]}
    assert cols["flag"] == {"dtype": "bool"}
    assert "nullable" not in cols["x"]
    assert any("categories of plan" in n and "blocks" in n for n in notes)
    assert any("ranges of" in n and "count" in n for n in notes)


@pytest.mark.parametrize("values, integer, expected", [
    ([10, 20], True, (5, 25)),
    ([3, 3], True, (1, 5)),           # a constant column: +- half its size
    ([0.0, 0.0], False, (0.0, 1.0)),  # a constant zero: +- 1, floored at 0
    ([-1.0, 1.0], False, (-2.0, 2.0)),
    ([100.0, 1234.5], False, (0.0, 1810.0)),
])
def test_numeric_range_widens_by_half_the_span_and_floors_non_negative_at_zero(values, integer, expected):
    assert numeric_range(pd.Series(values), integer) == expected


def test_free_text_and_other_datetimes_are_declared_but_not_features():
    n = 120
    frame = base(n, email=[f"u{i}@x.io" for i in range(n)], signup=["2025-12-01"] * n, blank=[None] * n,
                 few=[None] * 72 + ["1"] * 48)
    spec, notes = infer_spec(frame, "demo", "y")
    assert columns(spec)["email"] == {"dtype": "str"}
    assert columns(spec)["blank"] == {"dtype": "str", "nullable": True}
    assert spec["schema"]["max_null_fraction"] == 0.9  # 1.5 x few's 60% empty; the empty column does not count
    assert any(n.startswith("blank is empty on every sampled row") for n in notes)
    assert columns(spec)["signup"] == {"dtype": "datetime"}
    assert spec["features"]["columns"] == ["x", "few"]
    assert any(n.startswith("email: free text") for n in notes)
    assert any("signup" in n and "left out of the features" in n for n in notes)


# ---------------------------------------------------------------- id and event time
def test_id_and_event_time_are_detected_by_name_and_content():
    frame = base(8, customer_id=[f"c{i}" for i in range(8)], signup_date=["2025-01-01"] * 8)
    frame = frame.rename(columns={"id": "row"})  # 'row' is unique but not named like an id
    spec, _ = infer_spec(frame, "demo", "y")
    assert spec["schema"]["id_column"] == "customer_id"
    assert spec["schema"]["event_time_column"] == "event_time"  # the event-named one, not signup_date
    assert columns(spec)["customer_id"] == {"dtype": "str", "unique": True}
    assert spec["start_date"] == date(2026, 2, 1)
    assert "customer_id" not in spec["features"]["columns"] and "event_time" not in spec["features"]["columns"]


def test_an_id_with_duplicates_is_not_an_id_and_the_error_says_what_to_do():
    frame = base(8)
    frame["id"] = ["a", "a"] + [f"r{i}" for i in range(6)]
    with pytest.raises(InitError, match="have nulls or duplicates.*--id-column"):
        infer_spec(frame, "demo", "y")
    spec, _ = infer_spec(frame.assign(key=[str(i) for i in range(8)]), "demo", "y", id_column="key")
    assert spec["schema"]["id_column"] == "key"


def test_no_datetime_column_is_an_error_naming_the_option():
    frame = base(8).drop(columns="event_time").assign(when=["31/01/2026"] * 8)
    with pytest.raises(InitError, match="ISO 8601.*--event-time-column"):
        infer_spec(frame, "demo", "y")


def test_a_gap_in_the_days_is_noted_and_the_window_spans_the_calendar():
    frame = base(8)
    frame.loc[4:, "event_time"] = "2026-02-05 10:00:00"  # Feb 1 and Feb 5: three days without rows
    spec, notes = infer_spec(frame, "demo", "y")
    assert spec["training"]["window_days"] + spec["training"]["holdout_days"] == 5
    assert any("no rows on 3 of the 5 days" in n for n in notes)


def test_day_counts_set_the_training_window_and_expected_rows():
    frame = base(8)
    spec, notes = infer_spec(frame, "demo", "y")
    assert spec["training"]["window_days"] == 1 and spec["training"]["holdout_days"] == 1
    assert spec["schema"]["expected_rows"] == [2, 8]  # 4 rows a day: half to twice
    assert spec["source"] == {"kind": "landing", "directory": "landing/demo",
                              "filename_template": "demo_{date:%Y-%m-%d}.csv"}


# ---------------------------------------------------------------- task and target
@pytest.mark.parametrize("target, task, expected, positive", [
    (["0", "1"] * 4, None, "classification", None),
    (["true", "false"] * 4, None, "classification", None),
    (["no", "yes", "no", "no"] * 2, None, "classification", "yes"),
    (["a", "b", "b", "b"] * 2, None, "classification", "a"),  # not obvious: the rarer class, flagged as a guess
    ([str(v / 3) for v in range(8)], None, "regression", None),
    (["0", "1"] * 4, "regression", "regression", None),
])
def test_task_inferred_from_the_target_and_overridable(target, task, expected, positive):
    spec, notes = infer_spec(base(8, label=target), "demo", "label", task)
    assert spec["target"]["task"] == expected
    assert spec["target"].get("positive_class") == positive
    assert "label" not in spec["features"]["columns"]
    if positive == "a":
        assert any("GUESSED as 'a'" in n for n in notes)
    elif positive == "yes":
        assert any("positive_class is 'yes'" in n and "check" in n for n in notes)
    parse_spec(spec)  # every case gives a spec that validates


@pytest.mark.parametrize("target, task, message", [
    (["a", "b", "c", "a"] * 2, None, "only binary classification"),
    ([str(v) for v in range(8)], "classification", "only binary classification"),
    (["a", "b"] * 4, "regression", "not numeric"),
    (["1"] * 8, None, "1 distinct value"),
])
def test_unsupported_targets_say_what_to_do(target, task, message):
    with pytest.raises(InitError, match=message):
        infer_spec(base(8, label=target), "demo", "label", task)


def test_a_target_with_nulls_stays_not_nullable_with_a_note():
    spec, notes = infer_spec(base(8, label=["0", "1", None, "1"] * 2), "demo", "label")
    assert columns(spec)["label"] == {"dtype": "int", "min": 0, "max": 1}
    assert any("target 'label' is empty on 2 sampled row(s)" in n for n in notes)


def test_bad_name_and_unknown_target():
    with pytest.raises(InitError, match="e.g. 'my_churn'"):
        infer_spec(base(), "My-Churn", "y")
    with pytest.raises(InitError, match="target 'nope' is not a column"):
        infer_spec(base(), "demo", "nope")


# ---------------------------------------------------------------- writing
def test_written_spec_loads_and_is_not_overwritten_without_force(tmp_path):
    spec, notes = infer_spec(base(8, plan=["no", "yes"] * 4, label=["no", "yes"] * 4), "demo", "label")
    path = write_spec(spec, notes, tmp_path)
    loaded = load_spec(path)
    assert loaded.schema_.columns["plan"].categories == ["no", "yes"]  # quoted: not YAML booleans
    assert loaded.target.positive_class == "yes"
    assert path.read_text().startswith("# Generated by `mlops-assets init`")
    with pytest.raises(InitError, match="exists: pass --force"):
        write_spec(spec, notes, tmp_path)
    assert write_spec({**spec, "owner": "me"}, notes, tmp_path, force=True) == path
    assert load_spec(path).owner == "me"


def test_split_landing_writes_each_days_rows_verbatim(tmp_path):
    frame = base(8, note=[None, "x"] * 4)
    spec_dict, notes = infer_spec(frame, "demo", "y")
    spec = load_spec(write_spec(spec_dict, notes, tmp_path / "projects"))
    paths = split_landing(frame, spec, tmp_path / "landing")
    assert [p.name for p in paths] == ["demo_2026-02-01.csv", "demo_2026-02-02.csv"]
    day = read_landing_file(spec.source, tmp_path / "landing", date(2026, 2, 2))
    assert day["id"].tolist() == ["r4", "r5", "r6", "r7"]
    assert validate_batch(spec.schema_, day).passed
    with pytest.raises(InitError, match="exist already"):
        split_landing(frame, spec, tmp_path / "landing")


# ---------------------------------------------------------------- end to end
def test_init_writes_a_spec_whose_project_runs_from_ingestion_to_champion(tmp_path, data_dir, monkeypatch, capsys):
    csv = tmp_path / "accounts.csv"
    churn_like_csv(csv)
    projects = tmp_path / "projects"
    monkeypatch.setenv("MLOPS_PROJECTS_DIR", str(projects))
    argv = ["init", "accounts", "--from", str(csv), "--target", "churned", "--split-landing"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "it loads and validates" in out and "Review and decide" in out and "thresholds" in out
    assert f"wrote {DAYS} landing files" in out
    assert main(argv) == 2  # the spec exists now
    assert "pass --force" in capsys.readouterr().err

    [spec] = load_specs(projects_dir())  # the definitions' projects directory
    assert spec.name == "accounts" and spec.target.task == "classification"
    assert spec.schema_.id_column == "account_id" and spec.schema_.event_time_column == "event_ts"
    # "score" is the prediction log's own column: declared, but no input (else the model could not be served)
    assert spec.features.columns == ["usage_gb", "plan", "support_calls", "tenure_months"]
    assert "score" in spec.schema_.columns and "score: left out of the features" in out
    assert (data_dir / "landing" / "accounts" / "accounts_2026-03-05.csv").exists()

    resources = default_resources(str(data_dir), tracking_uri=local_tracking_uri(str(tmp_path / "ml")))
    defs = build_definitions([spec], resources)
    keys = [f"2026-03-0{d}" for d in range(1, DAYS + 1)]
    with instance_for_test() as instance:
        ingested = ingest_range(defs, spec, keys, instance)
        assert ingested.success and ingested.ingested == keys and not ingested.blocked
        assert ingested.rows == DAYS * ROWS_PER_DAY
        assets = build_model_assets(spec)
        trained = materialize(assets, instance=instance, resources=resources, selection=[a.key for a in assets])
        assert trained.success
    tracking = resources["tracking"]
    assert tracking.alias_version("accounts", CHAMPION) == "1"
    run_id = tracking.client().get_model_version("accounts", "1").run_id
    assert tracking.client().get_run(run_id).data.metrics["holdout_roc_auc"] > 0.7  # the signal was learnt


def test_landing_from_csv_splits_into_an_existing_specs_directory(tmp_path, data_dir, capsys):
    csv = tmp_path / "accounts.csv"
    churn_like_csv(csv)
    assert main(["init", "accounts", "--from", str(csv), "--target", "churned",
                 "--projects-dir", str(tmp_path)]) == 0
    assert "mlops-assets landing --spec" in capsys.readouterr().out
    assert not (data_dir / "landing" / "accounts").exists()
    assert main(["landing", "--spec", str(tmp_path / "accounts.yaml"), "--from", str(csv)]) == 0
    assert sorted(p.name for p in (data_dir / "landing" / "accounts").iterdir())[0] == "accounts_2026-03-01.csv"
    assert main(["landing", "--spec", str(tmp_path / "accounts.yaml"), "--from", str(csv)]) == 2
    assert main(["landing", "--spec", str(tmp_path / "accounts.yaml"), "--from", str(csv), "--force"]) == 0
    written = yaml.safe_load((tmp_path / "accounts.yaml").read_text())
    assert written["source"]["directory"] == "landing/accounts"


def test_inference_on_the_housing_feed_recovers_the_hand_written_housing_spec(tmp_path):
    """Three days of the housing generator's landing files, inferred: the dtypes, nullability, categories, keys,
    task and features of projects/housing.yaml, with ranges that hold every observed value."""
    from mlops_assets.data.sources import write_sample_landing

    from .helpers import PROJECTS

    paths = write_sample_landing(PROJECTS / "housing.yaml", tmp_path, date(2026, 1, 1), 3)
    frame = pd.concat([pd.read_csv(p, dtype=str) for p in paths], ignore_index=True)
    spec, _ = infer_spec(frame, "homes", "price")
    inferred = parse_spec(spec)
    housing = load_spec(PROJECTS / "housing.yaml")
    for name, expected in housing.schema_.columns.items():
        got = inferred.schema_.columns[name]
        assert (got.dtype, got.nullable, got.categories and sorted(got.categories)) == (
            expected.dtype, expected.nullable, expected.categories and sorted(expected.categories)), name
        if got.min is not None:
            typed = pd.to_numeric(frame[name])
            assert got.min <= typed.min() and typed.max() <= got.max, name
    assert (inferred.schema_.id_column, inferred.schema_.event_time_column) == ("listing_id", "listed_at")
    assert inferred.target == housing.target
    assert inferred.features.columns == housing.features.columns
    assert inferred.start_date == date(2026, 1, 1)


def test_the_docstring_examples_hold():
    import doctest

    from mlops_assets import spec_init

    assert doctest.testmod(spec_init).failed == 0
