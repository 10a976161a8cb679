"""The landing sample writer behind `make landing` and the demo."""

from __future__ import annotations

from datetime import date

from mlops_assets.cli import main
from mlops_assets.data.schema import validate_batch
from mlops_assets.data.sources import read_landing_file
from mlops_assets.spec import load_spec

from .helpers import PROJECTS


def test_landing_writes_valid_daily_files(data_dir, capsys):
    assert main(["landing", "--spec", str(PROJECTS / "housing.yaml"), "--start", "2026-01-01", "--days", "3"]) == 0
    spec = load_spec(PROJECTS / "housing.yaml")
    directory = data_dir / spec.source.directory
    assert sorted(p.name for p in directory.iterdir()) == [f"housing_2026-01-0{i}.csv" for i in (1, 2, 3)]
    batch = read_landing_file(spec.source, directory, date(2026, 1, 2))
    assert validate_batch(spec.schema_, batch).passed
    assert "wrote 3 landing files" in capsys.readouterr().out
