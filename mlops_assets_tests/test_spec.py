"""Spec loading: the shipped specs are valid; invalid ones fail naming file and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from mlops_assets.definitions import defs
from mlops_assets.spec import SpecError, load_spec, load_specs

from .helpers import PROJECTS, spec_dict


def test_shipped_specs_load():
    specs = {s.name: s for s in load_specs(PROJECTS)}
    assert set(specs) == {"churn", "housing"}
    assert specs["churn"].target.task == "classification" and specs["churn"].source.kind == "generator"
    assert specs["housing"].target.task == "regression" and specs["housing"].source.kind == "landing"
    assert specs["churn"].spec_hash() != specs["housing"].spec_hash()


def _mutate(data: dict, path: list, value) -> dict:
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "path,value,field,words",
    [
        (["schema", "columns", "tenure_months", "colour"], "red", "schema.columns.tenure_months.colour", "unknown field"),
        (["trainnig"], {}, "trainnig", "unknown field"),
        (["schema", "columns", "tenure_months", "dtype"], "integer", "schema.columns.tenure_months.dtype", "'int'"),
        (["target", "column"], "churnd", "target.column", "'churnd' is not among schema.columns"),
        (["schema", "id_column"], "nope", "schema", "id_column 'nope'"),
        (["schema", "columns", "contract", "categories"], None, "schema.columns.contract", "categories"),
        (["source", "rows_per_day"], -5, "source.generator.rows_per_day", "greater than or equal to 0"),
    ],
)
def test_invalid_spec_names_file_and_field(tmp_path, path, value, field, words):
    bad = _mutate(spec_dict("churn"), path, value)
    file = tmp_path / "churn.yaml"
    file.write_text(yaml.safe_dump(bad))
    with pytest.raises(SpecError) as err:
        load_spec(file)
    message = str(err.value)
    assert str(file) in message
    assert f"field '{field}'" in message
    assert words in message


def test_invalid_yaml_and_name_mismatch(tmp_path):
    file = tmp_path / "churn.yaml"
    file.write_text("name: churn\nsource: [unclosed\n")
    with pytest.raises(SpecError, match="Invalid YAML.*churn.yaml"):
        load_spec(file)
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(spec_dict("churn")))
    with pytest.raises(SpecError, match="field 'name': 'churn' must match the file name"):
        load_spec(other)


def test_invalid_spec_fails_definitions_loading(tmp_path, monkeypatch):
    (tmp_path / "churn.yaml").write_text(yaml.safe_dump(_mutate(spec_dict("churn"), ["target", "task"], "clustering")))
    monkeypatch.setenv("MLOPS_PROJECTS_DIR", str(tmp_path))
    with pytest.raises(SpecError) as err:
        defs()
    assert "churn.yaml" in str(err.value) and "field 'target.task'" in str(err.value)
