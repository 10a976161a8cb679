"""The retraining loop, timed with the real daemon: drift from day D vs a no-drift control (issue 8).

Runs the timeline of ``mlops_assets_tests/test_retrain_loop.py`` twice in temporary directories (drift, then the
control) and prints, before its last line, the same figures for the baseline a user has without the loop: a weekly
scheduled retrain (computed, not waited for). The last line is::

    LOOP detect_s=<s> recover_s=<s> retrains=<n> control_retrains=<n> same_data_retrains=<n> before=<metric> after=<metric>

detect_s: first drifted request → the first sensor tick that confirmed drift or decay; recover_s: first drifted
request → ``/version`` says the new champion; before/after: the primary metric of v1 and of the new champion on the
same recent drifted holdout (the retrain's evaluation report).

Usage: ``.venv/bin/python bench/loop.py``
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlops_assets_tests.loop_timeline import PROJECT, LoopTimeline  # noqa: E402

WEEK_S = 7 * 24 * 3600


def _run(drift: bool) -> dict:
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="mlops-loop-") as root:
        t = LoopTimeline(Path(root), drift=drift)
        t.write_files()
        os.environ.update(t.env)
        instance = t.instance()
        try:
            t.bootstrap(instance)
            t.start_daemon()
            onset = time.time()
            t.send(3 * t.window_rows, seed=101)
            out: dict = {}
            if drift:
                t.wait(lambda: t.version() != "1", 600, "the new champion to serve", poll_s=0.5)
                out["recover_s"] = time.time() - onset
                out["detect_s"] = (t.confirmed_at(instance) or float("nan")) - onset
                report = t.evaluation()
                metric = report.get("primary_metric") or "roc_auc"
                out["before"] = report["champion_metrics"][metric]
                out["after"] = report["metrics"][metric]
            t.send(4 * t.window_rows, seed=202, day=t.today - dt.timedelta(days=1))
            t.wait_quiet(instance, time.time() + 2.0, timeout_s=300)
            runs = t.retrain_runs(instance)
            versions = [r.tags.get("mlops/training_set_version") for r in runs]
            out["retrains"] = len(runs)
            out["same_data_retrains"] = len(versions) - len(set(versions))
            return out
        finally:
            t.stop()
            instance.dispose()
            os.environ.clear()
            os.environ.update(saved)


def main() -> int:
    started = time.time()
    loop = _run(drift=True)
    control = _run(drift=False)
    print(f"drift timeline: {loop}")
    print(f"control timeline: {control}")
    print(f"total wall time {time.time() - started:.0f} s")
    # Baseline: the weekly train schedule (Mondays 03:00 UTC) and no drift sensor. Drift is never detected; the
    # model is replaced at the next Monday, on average half a week after the onset (worst case a week); it retrains
    # every week with or without drift, and a week with no new labelled data retrains on the same set again.
    print(f"WEEKLY detect_s=never recover_s={WEEK_S / 2:.0f} (mean; worst {WEEK_S}) retrains=1/week "
          "control_retrains=1/week same_data_retrains=every week without new data "
          f"before={loop['before']:.4f} after=n/a (until the next Monday)")
    print(f"LOOP detect_s={loop['detect_s']:.1f} recover_s={loop['recover_s']:.1f} retrains={loop['retrains']} "
          f"control_retrains={control['retrains']} same_data_retrains={loop['same_data_retrains']} "
          f"before={loop['before']:.4f} after={loop['after']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
