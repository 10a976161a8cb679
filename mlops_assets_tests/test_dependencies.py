"""setup.py declares what the package imports, and nothing it neither imports nor needs for a stated reason."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata

from .helpers import REPO

#: Runtime requirements the package does not import, each with why it is required.
NOT_IMPORTED = {
    "dagster-webserver": "the UI of `dagster dev` / `make dev`",
    "tabulate": "pandas' DataFrame.to_markdown, which renders the metadata tables",
}
_REQUIREMENT = re.compile(r"""["']([A-Za-z0-9][A-Za-z0-9_.\-]*)(?:\[[^\]]*\])?\s*(?:==|>=|<=|~=|<|>)[^"']*["']""")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def setup_requirements() -> tuple[set[str], set[str]]:
    """(install_requires, every requirement incl. extras) of setup.py, read statically, names normalised."""
    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    runtime = next(k.value for k in call.keywords if k.arg == "install_requires")
    names = {_norm(m) for m in _REQUIREMENT.findall(ast.unparse(runtime))}
    return names, {_norm(m) for m in _REQUIREMENT.findall((REPO / "setup.py").read_text())}


def imported_top_levels() -> set[str]:
    """Third-party top-level modules that `mlops_assets` imports anywhere (also inside functions)."""
    found: set[str] = set()
    for path in (REPO / "mlops_assets").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "mlops_assets"}


def test_every_imported_package_is_declared():
    _, declared = setup_requirements()
    providers = metadata.packages_distributions()
    undeclared = {m: providers.get(m) for m in imported_top_levels()
                  if not {_norm(d) for d in providers.get(m, [])} & declared}
    assert undeclared == {}


def test_every_runtime_requirement_is_imported_or_has_a_stated_reason():
    runtime, _ = setup_requirements()
    providers = metadata.packages_distributions()
    used = {_norm(d) for m in imported_top_levels() for d in providers.get(m, [])}
    unused = sorted(runtime - used - set(NOT_IMPORTED))
    assert unused == []
    assert set(NOT_IMPORTED) <= runtime  # a reason for something no longer required is stale
