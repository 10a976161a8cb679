"""The spec reference, generated from the pydantic model: a JSON Schema file for editors and a markdown table of
every field (type, default, meaning). ``python -m mlops_assets.spec_reference`` rewrites both under ``docs/``;
a test fails when they fall behind :class:`mlops_assets.spec.ProjectSpec`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
SCHEMA_FILE = DOCS / "project-spec.schema.json"
REFERENCE_FILE = DOCS / "spec-reference.md"
SCHEMA_ID = "https://github.com/mlops-assets/mlops-assets/docs/project-spec.schema.json"
SCALARS = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "null": "null"}
BOUNDS = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))


def json_schema() -> dict:
    """The JSON Schema of a project spec file, as YAML editors (yaml-language-server) use it."""
    from mlops_assets.spec import ProjectSpec

    schema = ProjectSpec.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "mlops-assets model-project spec", **{k: v for k, v in schema.items() if k != "title"}}


def _ref(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = {**schema["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _type(schema: dict, node: dict) -> str:
    """A short human type: ``integer ≥ 1``, ``one of a, b``, ``list of string``, ``map of string → …``."""
    node = _ref(schema, node)
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    if "anyOf" in node or "oneOf" in node:
        options = [o for o in node.get("anyOf", node.get("oneOf")) if o.get("type") != "null"]
        text = " or ".join(_type(schema, o) for o in options)
        return text + (" (or null)" if len(options) < len(node.get("anyOf", node.get("oneOf"))) else "")
    kind = node.get("type")
    if kind == "array":
        if "prefixItems" in node:
            return "[" + ", ".join(_type(schema, i) for i in node["prefixItems"]) + "]"
        return "list of " + _type(schema, node.get("items", {}))
    if kind == "object" and "properties" in node:
        return node.get("title", "mapping")
    if kind == "object":
        return "map of string → " + _type(schema, node.get("additionalProperties", {}))
    text = SCALARS.get(kind, kind or "any")
    if node.get("format") == "date":
        text = "date (YYYY-MM-DD)"
    bounds = [f"{sign} {node[key]}" for key, sign in BOUNDS if key in node]
    if "pattern" in node:
        bounds.append(f"matching `{node['pattern']}`")
    return f"{text} {', '.join(bounds)}" if bounds else text


def _default(schema: dict, node: dict, required: bool) -> str:
    if required:
        return "**required**"
    if "default" in node:
        return f"`{json.dumps(node['default'])}`"
    resolved = _ref(schema, node)  # a default_factory: an empty list or map, or a section of defaults
    if resolved.get("type") == "array":
        return "`[]`"
    return "its fields' defaults" if "properties" in resolved else "`{}`"


def _models(schema: dict, node: dict) -> list[dict]:
    """The mapping models a field holds (itself, each union variant, a map's values), for their own tables."""
    node = _ref(schema, node)
    if "properties" in node:
        return [node]
    if "oneOf" in node or "anyOf" in node:
        return [m for o in node.get("oneOf", node.get("anyOf")) for m in _models(schema, o)]
    if node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        return _models(schema, node["additionalProperties"])
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return _models(schema, node["items"])
    return []


def _section(schema: dict, path: str, model: dict, out: list[str]) -> None:
    required = set(model.get("required", []))
    kind = model.get("properties", {}).get("kind", {})
    title = f"`{path}`" if path else "Top level"
    if "const" in kind or "enum" in kind:
        title += f" (kind: `{kind.get('const', (kind.get('enum') or [''])[0])}`)"
    out += [f"### {title}", ""]
    if model.get("description") and path:
        out += [model["description"].strip().replace("<", "&lt;"), ""]
    out += ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    nested = []
    for name, field in model["properties"].items():
        meaning = field.get("description", "").replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")
        type_text = _type(schema, field).replace("|", "\\|")
        out.append(f"| `{name}` | {type_text} | {_default(schema, field, name in required)} | {meaning} |")
        resolved = _ref(schema, field)
        suffix = {"array": "[]", "object": "" if "properties" in resolved else ".<name>"}.get(resolved.get("type"), "")
        for sub in _models(schema, field):
            nested.append((f"{path + '.' if path else ''}{name}{suffix}", sub))
    out.append("")
    for sub_path, sub in nested:
        _section(schema, sub_path, sub, out)


def reference_markdown() -> str:
    """Every field of a spec, section by section, with its type, default and meaning."""
    schema = json_schema()
    out = ["<!-- Generated by `python -m mlops_assets.spec_reference` from mlops_assets/spec.py: do not edit. -->",
           "", "# Model-project spec reference", "",
           "One YAML file per project (`projects/<name>.yaml`, or the file a `ModelProject` component names). "
           "Editors that speak JSON Schema complete and check it with "
           "[`project-spec.schema.json`](project-spec.schema.json) (first line of a spec: "
           "`# yaml-language-server: $schema=../docs/project-spec.schema.json`). `mlops-assets check` validates "
           "specs, cross-field rules included, and prints `file:line: field: message`.", ""]
    _section(schema, "", schema, out)
    return "\n".join(out).rstrip() + "\n"


def write(directory: Path = DOCS) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    schema_path, reference_path = directory / SCHEMA_FILE.name, directory / REFERENCE_FILE.name
    schema_path.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
    reference_path.write_text(reference_markdown())
    return [schema_path, reference_path]


if __name__ == "__main__":
    for p in write(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        print(f"wrote {p}")
