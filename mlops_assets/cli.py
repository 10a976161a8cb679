"""`mlops-assets` command line: sample landing files and the end-to-end demo."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path


def _data_dir() -> Path:
    from mlops_assets.locations import data_dir

    return data_dir()


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _stop_servers() -> int:
    from mlops_assets.definitions import default_resources, projects_dir
    from mlops_assets.spec import load_specs

    deployer = default_resources(str(_data_dir()))["deployer"]
    for spec in load_specs(projects_dir()):
        deployer.stop(spec)
        print(f"[{spec.name}] model server stopped")
    return 0


def _split_csv(spec_path: Path, csv: Path, force: bool) -> int:
    """`mlops-assets landing --from FILE.csv`: the CSV's rows as the project's daily landing files."""
    from mlops_assets import spec_init
    from mlops_assets.spec import LandingSource, load_spec

    spec = load_spec(spec_path)
    if not isinstance(spec.source, LandingSource):
        raise SystemExit(f"{spec_path}: project '{spec.name}' is not fed from a landing directory")
    try:
        paths = spec_init.split_landing(spec_init.read_csv_text(csv), spec, _data_dir() / spec.source.directory, force)
    except spec_init.InitError as err:
        print(f"mlops-assets landing: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} landing files ({paths[0].name} .. {paths[-1].name}) from {csv} to {paths[0].parent}")
    return 0


def _check_specs(paths: list[Path]) -> int:
    """`mlops-assets check`: load every spec, print each problem as `file:line: field '...': message`."""
    from mlops_assets.spec import SpecError, load_spec

    if not paths:
        from mlops_assets.definitions import projects_dir

        paths = [projects_dir()]
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    if not files:
        print(f"mlops-assets check: no *.yaml specs in {', '.join(map(str, paths))}", file=sys.stderr)
        return 2
    bad = 0
    for file in files:
        try:
            load_spec(file)
        except SpecError as err:
            bad += 1
            lines = str(err).splitlines()
            print("\n".join(line.strip() for line in (lines[1:] or lines)), file=sys.stderr)
    print(f"{len(files) - bad} of {len(files)} spec(s) valid" + (f"; fix the {bad} above" if bad else ""))
    return 1 if bad else 0


def _init_project(args: argparse.Namespace) -> int:
    """`mlops-assets init`: infer, write and load the spec; optionally split the CSV into landing files."""
    from mlops_assets import spec_init

    try:
        frame = spec_init.read_csv_text(args.csv)
        data, notes = spec_init.infer_spec(frame, args.name, args.target, args.task, id_column=args.id_column,
                                           event_time_column=args.event_time_column, source_file=args.csv.name)
        if args.projects_dir is None:
            from mlops_assets.definitions import projects_dir

            args.projects_dir = projects_dir()
        path = spec_init.write_spec(data, notes, args.projects_dir, force=args.force)
        from mlops_assets.spec import load_spec

        spec = load_spec(path)
        landing = _data_dir() / spec.source.directory
        written = spec_init.split_landing(frame, spec, landing, force=args.force) if args.split_landing else []
    except spec_init.InitError as err:
        print(f"mlops-assets init: {err}", file=sys.stderr)
        return 2
    days = spec_init.landing_days(frame, spec.schema_.event_time_column)
    print(f"wrote {path} ({len(spec.schema_.columns)} columns, {len(spec.features.columns)} features, "
          f"{spec.target.task} of '{spec.target.column}'); it loads and validates.")
    print("\nReview and decide:")
    print("\n".join(f"  - {n}" for n in notes))
    template = spec.source.filename_template
    print(f"\nDaily files: drop one file a day, named {template!r}, into {landing}")
    if written:
        print(f"  wrote {len(written)} landing files ({days[0]} .. {days[-1]}) from {args.csv} there.")
    else:
        print(f"  to write {args.csv}'s rows there, one file per event-time day: "
              f"mlops-assets landing --spec {path} --from {args.csv}")
    print(f"\nRun it: make dev, then backfill {spec.name}__ingest over {days[0]} .. {days[-1]} and run "
          f"{spec.name}__train.")
    return 0


def _lineage(args: argparse.Namespace) -> int:
    """Print a prediction's lineage (or with --history a project's model history) from the instance and MLflow."""
    import json
    import os

    from dagster import DagsterInstance

    from mlops_assets import constants as C
    from mlops_assets.lineage.chain import trace
    from mlops_assets.lineage.history import model_history
    from mlops_assets.lineage.report import chain_text, history_markdown

    from mlops_assets.locations import local_tracking_uri
    from mlops_assets.resources.tracking import MlflowTracking

    tracking = MlflowTracking(tracking_uri=os.environ.get(C.TRACKING_URI_ENV) or local_tracking_uri(_data_dir()))
    with DagsterInstance.get() as instance:  # DAGSTER_HOME, as `dagster dev` and the Makefile use it
        try:
            if args.history:
                out = model_history(instance, args.history, tracking.client())
                print(json.dumps(out, indent=2) if args.json else history_markdown(out))
                return 0
            chain = trace(args.request_id, _data_dir(), instance, tracking)
        except LookupError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    print(json.dumps(chain, indent=2, default=str) if args.json else chain_text(chain))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    landing = sub.add_parser("landing", help="write sample daily landing files for a landing-fed project")
    landing.add_argument("--spec", type=Path, default=Path("projects/housing.yaml"))
    landing.add_argument("--start", type=date.fromisoformat, default=None,
                         help="first day (default: the --days days ending yesterday, UTC)")
    landing.add_argument("--days", type=_positive_int, default=28)
    landing.add_argument("--from", dest="csv", type=Path, default=None,
                         help="split this CSV into the daily files (by event-time day) instead of generating samples")
    landing.add_argument("--force", action="store_true", help="with --from: overwrite existing landing files")
    demo = sub.add_parser("demo", help="materialize every project end to end on embedded defaults")
    demo.add_argument("--days", type=_positive_int, default=21,
                      help="daily partitions to ingest per project: the N days ending yesterday (UTC)")
    demo.add_argument("--verbose", action="store_true",
                      help="print Dagster's, dbt's and MLflow's output to the terminal instead of a log file")
    sub.add_parser("stop", help="stop every project's local model server (flushes its prediction log)")
    check = sub.add_parser("check", help="validate project specs; print each problem as file:line: field: message")
    check.add_argument("paths", nargs="*", type=Path, help="spec files or directories (default: the projects dir)")
    init = sub.add_parser("init", help="infer a new landing-fed project spec (projects/NAME.yaml) from a sample CSV")
    init.add_argument("name", help="project name: lower-case letters, digits, underscores")
    init.add_argument("--from", dest="csv", type=Path, required=True, help="the sample CSV (a header row)")
    init.add_argument("--target", required=True, help="the column the model predicts")
    init.add_argument("--task", choices=["classification", "regression"], default=None,
                      help="default: classification for a target with two values or of strings, else regression")
    init.add_argument("--id-column", default=None, help="default: the unique column named id, *_id, uuid or *_key")
    init.add_argument("--event-time-column", default=None,
                      help="default: the ISO 8601 datetime column named most like event/timestamp/time/date")
    init.add_argument("--split-landing", action="store_true",
                      help="also write the CSV's rows as daily landing files (by event-time day) under MLOPS_DATA_DIR")
    init.add_argument("--projects-dir", type=Path, default=None, help="default: MLOPS_PROJECTS_DIR or ./projects")
    init.add_argument("--force", action="store_true", help="overwrite an existing spec (and landing files)")
    lineage = sub.add_parser("lineage", help="trace a served prediction back to its model, run, data and raw files")
    lineage.add_argument("request_id", nargs="?", help="the answer's request_id (x-request-id header)")
    lineage.add_argument("--json", action="store_true", help="print the chain as JSON")
    lineage.add_argument("--history", metavar="PROJECT", help="print PROJECT's model history instead")
    args = parser.parse_args(argv)
    if args.command == "lineage" and not (args.request_id or args.history):
        parser.error("lineage needs a REQUEST_ID or --history PROJECT")

    if args.command == "landing" and args.csv is not None:
        return _split_csv(args.spec, args.csv, args.force)
    if args.command == "landing":
        from mlops_assets.data.sources import write_sample_landing
        from mlops_assets.days import recent_days

        start = args.start or recent_days(args.days)[0]
        paths = write_sample_landing(args.spec, _data_dir(), start, args.days)
        print(f"wrote {len(paths)} landing files ({start} .. {start + timedelta(days=args.days - 1)}) to {paths[0].parent}")
        return 0
    if args.command == "stop":
        return _stop_servers()
    if args.command == "lineage":
        return _lineage(args)
    if args.command == "init":
        return _init_project(args)
    if args.command == "check":
        return _check_specs(args.paths)
    from mlops_assets.demo import run_demo

    return run_demo(_data_dir(), days=args.days, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
