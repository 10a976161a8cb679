"""Module structure: the pure cores import neither Dagster nor MLflow, and no import cycle among our modules.

Both are read from the code itself (a fresh interpreter's ``sys.modules``; the import statements' AST), so a new
module that breaks either rule fails here without anyone listing it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import REPO

PACKAGE = REPO / "mlops_assets"

#: The pure cores: statistics, transforms, metrics, the model server, the rollout plan, reproduce's helpers, the
#: lineage log reader, the spec, and what they are built on. Dagster and MLflow stay in the thin shells around them.
PURE_CORES = (
    # statistics of monitoring and evaluation
    "monitoring.drift", "monitoring.persistence", "monitoring.profile", "monitoring.performance",
    "monitoring.windows", "evaluation.bootstrap", "evaluation.gates", "evaluation.slices",
    # features and metrics
    "features.transforms", "evaluation.metrics",
    # the model server (it runs in its own process, without Dagster)
    "serving.app", "serving.batching", "serving.compiled", "serving.contract", "serving.models", "serving.predlog",
    "serving.routing", "serving.protocol", "serving.schema", "serving.segments", "serving.payloads",
    "serving.openapi", "serving.metrics", "serving.__main__",
    # deployment's rollout plan, reproduce and its training-set helpers, lineage's log reader
    "deployment.rollout", "deployment.errors", "deployment.server_client",
    "training.reproduce", "training.training_set", "training.split", "training.estimators",
    "lineage.logs",
    # the spec, the generators, calendar days
    "spec", "labels", "data.generators.registry", "data.fingerprint", "days",
)
HEAVY_SHELLS = ("dagster", "mlflow")

_IMPORT_EACH = """
import importlib, json, sys
heavy = {heavy!r}
first = {{}}
for name in {modules!r}:
    importlib.import_module("mlops_assets." + name)
    for h in heavy:  # the first module whose import brought `h` in (each earlier one did not)
        if h in sys.modules and h not in first:
            first[h] = name
print(json.dumps(first))
"""


def test_the_pure_cores_import_neither_dagster_nor_mlflow():
    """One fresh interpreter imports the cores one by one: the first that brings in a shell module is named."""
    code = _IMPORT_EACH.format(heavy=HEAVY_SHELLS, modules=PURE_CORES)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = json.loads(proc.stdout.strip().splitlines()[-1])
    assert first == {}, f"imported by a pure core (module: first core that imported it): {first}"


# ---------------------------------------------------------------- import cycles
def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports, from every import statement in it.

    Function-level (lazy) imports count like module-level ones: deferring an import only moves a cycle from import
    time to call time and hides it; the two modules still need each other. Imports under ``if TYPE_CHECKING:``
    do not count (they never run). ``from pkg import name`` is an edge to ``pkg.name`` when that is a module.
    """
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for block in ast.walk(tree) if _type_checking_only(block) for s in block.body for n in ast.walk(s)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([node.module] if node.module else [])])
            out.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return {m for m in out if m in modules and m != name}


def import_cycles(root: Path) -> list[list[str]]:
    """The strongly connected components (more than one module) of the package's import graph (Tarjan)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph = {name: sorted(imported_modules(p, root, set(files))) for name, p in files.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def test_no_import_cycle_among_the_packages_modules():
    assert import_cycles(PACKAGE) == []


@pytest.fixture
def toy_package(tmp_path) -> Path:
    root = tmp_path / "toy"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "sub/__init__.py": "",
        "a.py": "from toy.sub import b\n",
        "sub/b.py": "def f():\n    from ..c import g  # lazy: still a dependency\n    return g\n",
        "c.py": "from toy import a\ndef g():\n    return a\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy.e import E\n",
        "e.py": "import toy.d\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_the_cycle_check_finds_lazy_cycles_and_ignores_type_checking_imports(toy_package):
    assert import_cycles(toy_package) == [["toy.a", "toy.c", "toy.sub.b"]]  # d <-> e is TYPE_CHECKING only


# ---------------------------------------------------------------- no side channels to the stored values
#: The one module that knows where the IO managers keep each asset's value.
STORAGE = "mlops_assets.resources.storage"
#: What the rest of the package may import from it: the resources, whose public methods load and write values.
STORAGE_API = {"DataDirectory", "ParquetIOManager", "JsonIOManager"}
#: Walking a directory's files (or building a path below it).
PATH_WALKS = {"glob", "rglob", "iterdir", "joinpath", "open", "read_text", "read_bytes"}


def _under_assets(node: ast.AST) -> bool:
    """`node` is the assets directory: the "assets" path segment or the storage's ``assets_dir``."""
    return (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip("/") == "assets") \
        or (isinstance(node, ast.Attribute) and node.attr == "assets_dir")


def storage_side_channels(source: str) -> list[str]:
    """Where `source` (a module other than the storage module) reaches the IO managers' files by path.

    Importing anything but the storage resources from the storage module (its path helpers), importing the old
    ``resources.layout``, calling an IO manager's private ``_file``, and building a path below the assets directory
    (``... / "assets"``, ``assets_dir / ...``, ``assets_dir.glob(...)``, ``joinpath("assets", ...)``).
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and node.module == STORAGE:
            found += [f"{line}: imports {a.name} from {STORAGE}" for a in node.names if a.name not in STORAGE_API]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith("resources.layout"):
            found.append(f"{line}: imports the storage layout ({node.module})")
        elif isinstance(node, ast.Attribute) and node.attr == "_file":
            found.append(f"{line}: an IO manager's private _file")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and (
                _under_assets(node.left) or _under_assets(node.right)):
            found.append(f"{line}: a path below the assets directory: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in PATH_WALKS and (
                _under_assets(node.func.value) or any(_under_assets(a) for a in node.args)):
            found.append(f"{line}: a path below the assets directory: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("source", [
    # what the sensors, the demo, reproduce and the training set did before the storage module owned the layout
    "from mlops_assets.resources.layout import champion_path, load_json\n",
    "from mlops_assets.resources.storage import DataDirectory, asset_path\n",
    "champion = json.loads((data_dir / 'assets' / spec.name / 'champion.json').read_text())\n",
    "day = max((data_dir / 'assets' / spec.name / 'validated_data').glob('*.parquet'))\n",
    "files = sorted(storage.assets_dir.glob('churn/features/*.parquet'))\n",
    "path = Path(root).joinpath('assets', 'churn', 'champion.json')\n",
    "frame = pd.read_parquet(io_manager._file(key, day))\n",
])
def test_the_side_channel_check_finds_a_path_to_the_stored_values(source):
    assert storage_side_channels(source)


def test_the_side_channel_check_lets_values_be_loaded_through_the_storage_resources():
    source = ("from mlops_assets.resources.storage import DataDirectory, JsonIOManager, ParquetIOManager\n"
              "record = json_io_manager.load_record(AssetKey(['churn', 'champion']))\n"
              "print(f'outputs: {storage.assets_dir}')\n"
              "log_dir = storage.root / 'predictions' / 'churn'\n")
    assert storage_side_channels(source) == []


def test_no_module_but_the_storage_module_reaches_the_stored_values_by_path():
    """Sensors, the demo, the training set and reproduce load values through the IO managers (or Dagster's asset
    value loader) and decide from the instance's records; only the storage module knows the files."""
    found = {module_name(p, PACKAGE): storage_side_channels(p.read_text(encoding="utf-8"))
             for p in sorted(PACKAGE.rglob("*.py")) if module_name(p, PACKAGE) != STORAGE}
    assert {m: f for m, f in found.items() if f} == {}
    assert not (PACKAGE / "resources" / "layout.py").exists()
