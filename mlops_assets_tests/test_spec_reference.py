"""The generated spec reference and JSON Schema: up to date with the model, complete, and right about real specs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from mlops_assets import spec_reference

REPO = Path(__file__).resolve().parents[1]


def test_the_committed_files_are_what_the_model_generates(tmp_path):
    written = spec_reference.write(tmp_path)
    for path in written:
        committed = REPO / "docs" / path.name
        assert committed.read_text() == path.read_text(), (
            f"{committed} is out of date with mlops_assets/spec.py: run `python -m mlops_assets.spec_reference`")


def test_every_field_has_a_meaning_and_appears_in_the_reference():
    schema = spec_reference.json_schema()
    reference = spec_reference.reference_markdown()
    for name, model in [("ProjectSpec", schema), *schema["$defs"].items()]:
        for field, prop in model.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no description"
            assert f"| `{field}` |" in reference


def test_the_schema_accepts_the_shipped_specs_and_points_at_a_typo():
    validator = Draft202012Validator(json.loads((REPO / "docs" / "project-spec.schema.json").read_text()))
    for path in sorted((REPO / "projects").glob("*.yaml")):
        assert path.read_text().startswith("# yaml-language-server: $schema=../docs/project-spec.schema.json")
        data = yaml.safe_load(path.read_text())
        assert not list(validator.iter_errors(json.loads(json.dumps(data, default=str)))), path
    data = json.loads(json.dumps(yaml.safe_load((REPO / "projects" / "churn.yaml").read_text()), default=str))
    data["training"]["windw_days"] = 3
    (error,) = validator.iter_errors(data)
    assert list(error.absolute_path) == ["training"] and "windw_days" in error.message
