"""Run the model server: ``python -m mlops_assets.serving --project projects/churn.yaml --log-dir DIR``."""

from __future__ import annotations

import argparse
import gc
import logging
import threading
import time
from pathlib import Path


def freeze_gc(server=None, poll_s: float = 0.05) -> threading.Thread | None:
    """Take the objects alive now out of the cyclic GC's reach, and again once ``server``'s initial model has
    loaded (from a daemon thread polling ``server.router.live`` / ``server.load_error``; returned).

    The libraries (mlflow, sqlalchemy, sklearn, pandas, pyarrow …) leave ~350k long-lived objects once a model is
    loaded; every full (generation 2) collection traversed them all holding the GIL: 30 ms idle, ~140 ms on the
    busy 2-core bench box, paid by every request in flight (bench/serving.py --tail). Frozen objects are never
    traversed; they are still freed by reference counting, only cyclic garbage among them is kept.
    """
    gc.collect()
    gc.freeze()
    if server is None:
        return None

    def after_load() -> None:
        while server.router.live is None and server.load_error is None:
            time.sleep(poll_s)
        gc.collect()  # what the load left as garbage is freed, not frozen
        gc.freeze()

    thread = threading.Thread(target=after_load, name="gc-freeze", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlops_assets.serving", description=__doc__)
    parser.add_argument("--project", required=True, type=Path, help="the project spec YAML")
    parser.add_argument("--log-dir", required=True, type=Path, help="prediction/feedback log directory")
    parser.add_argument("--model-uri", help="model to load at startup, e.g. models:/churn@champion")
    parser.add_argument("--model-version", help="override the version reported for --model-uri")
    parser.add_argument("--data-version", help="override the data version reported for --model-uri (default: "
                                               "the registry's training_set_version tag)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token-env", default="MLOPS_SERVING_TOKEN",
                        help="environment variable holding the bearer token: unset means no auth, empty or "
                             "whitespace refuses to start ('' here disables auth)")
    parser.add_argument("--max-body-bytes", type=int, default=10 * 1024 * 1024)
    parser.add_argument("--fill-wait-ms", type=float, default=None,
                        help="most a micro-batch waits to fill up to the recent concurrency (default 2; 0 disables)")
    parser.add_argument("--log-flush-s", type=float, default=10.0,
                        help="how often logged rows are compacted into day Parquet files (they are on disk, in a "
                             "segment file, before each answer either way)")
    parser.add_argument("--log-retention-days", type=int, default=30,
                        help="delete log day folders older than this (0 keeps everything)")
    parser.add_argument("--access-log", action="store_true", help="log every request (slower)")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="leave the objects built at start-up to the cyclic GC (by default they are frozen out "
                             "of it: full collections over them paused every request in flight; bench/README.md)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    import uvicorn

    from mlops_assets.serving.app import create_app, read_token
    from mlops_assets.spec import load_spec

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        read_token(args.token_env or None)  # refuse an empty token before loading anything
    except ValueError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    app = create_app(
        load_spec(args.project),
        args.log_dir,
        token_env=args.token_env or None,
        initial_model_uri=args.model_uri,
        initial_version=args.model_version,
        initial_data_version=args.data_version,
        max_body_bytes=args.max_body_bytes,
        flush_interval_s=args.log_flush_s,
        log_retention_days=args.log_retention_days,
        **({} if args.fill_wait_ms is None else {"fill_wait_s": args.fill_wait_ms / 1e3}),
    )
    if args.gc_freeze:
        freeze_gc(app.state.server if args.model_uri else None)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, access_log=args.access_log,
                log_level=args.log_level, timeout_graceful_shutdown=30)


if __name__ == "__main__":
    main()
