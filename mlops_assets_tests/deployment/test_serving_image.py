"""The lean serving image: its requirements hold what the model server imports, and neither Dagster nor dbt."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements-serving.txt"
# What the server process imports: the entry point, the app, the model loader, and MLflow's sklearn loader.
SERVER_IMPORTS = ["mlops_assets.serving.__main__", "mlops_assets.serving.app", "mlops_assets.serving.models",
                  "mlops_assets.spec", "uvicorn", "mlflow.sklearn", "skops.io"]
FORBIDDEN = re.compile(r"^(dagster|dbt)", re.IGNORECASE)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names() -> list[str]:
    lines = (line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    return [Requirement(line).name for line in lines if line]


def closure(names: list[str]) -> set[str]:
    """The distributions pip installs for `names` (the installed versions' dependencies, markers evaluated)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def test_serving_requirements_pull_in_neither_dagster_nor_dbt():
    installed = closure(requirement_names())
    assert "mlflow-skinny" in installed and "scikit-learn" in installed
    assert not {d for d in installed if FORBIDDEN.match(d)}, sorted(d for d in installed if FORBIDDEN.match(d))
    # Nor the full MLflow (its server: Flask, gunicorn, graphene); the SQL stores come with mlflow-skinny.
    assert not {"mlflow", "flask", "gunicorn", "graphene"} & installed
    assert {"sqlalchemy", "alembic", "psycopg2-binary"} <= installed
    for line in REQUIREMENTS.read_text().splitlines():
        assert not FORBIDDEN.match(line.strip()), line


BLOCKER = """
import importlib, json, sys
blocked = set(json.loads(sys.argv[1]))
class Hide:
    # Wraps each import finder: a blocked distribution's modules are simply not found, as in the image.
    def __init__(self, inner):
        self.inner = inner
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            return None
        return self.inner.find_spec(name, path, target)
    def __getattr__(self, attr):
        return getattr(self.inner, attr)
sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
for m in json.loads(sys.argv[2]):
    importlib.import_module(m)
# The embedded sqlite store (what DockerDeployer mounts), created and read through mlflow-skinny's SQL store.
from mlflow import MlflowClient
assert MlflowClient(tracking_uri=sys.argv[3], registry_uri=sys.argv[3]).search_experiments()
print(json.dumps(sorted(sys.modules)))
"""


def test_the_server_imports_with_only_its_requirements_and_loads_no_dagster_nor_dbt(tmp_path):
    """A fresh interpreter where every module of a distribution outside the requirements' closure is absent,
    as in the image: the server's imports succeed (optional extras the libraries probe for fall back), and
    neither Dagster nor dbt is loaded."""
    allowed = closure(requirement_names())
    blocked = sorted({top for top, dists in metadata.packages_distributions().items()
                      if top != "mlops_assets" and not {_norm(d) for d in dists} & allowed})
    assert "dagster" in blocked and "dbt" in blocked
    store = f"sqlite:///{tmp_path}/mlflow.db"
    proc = subprocess.run([sys.executable, "-c", BLOCKER, json.dumps(blocked), json.dumps(SERVER_IMPORTS), store],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, f"the serving image would lack a package:\n{proc.stderr[-3000:]}"
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "mlops_assets.serving.app" in modules and "sklearn" in modules
    assert not [m for m in modules if FORBIDDEN.match(m)]
