"""What a sensor-triggered retrain would train on, and what must be ingested first.

When drift or decay is confirmed, a retrain is only worth a run if it would learn from data the champion has not
seen. :func:`plan_retrain` answers, from the instance and the data directory:

- the training window, ending on the newest day with data (the newest landing file, or yesterday for a
  generator; ``end_date`` when the spec has one);
- the days of that window not yet ingested, and the labelled-traffic days whose feedback grew since they were
  last materialized: the sensor requests those runs first;
- once nothing is left to prepare, the data version of the training set the retrain would build (computed by the
  same code as the ``training_set`` asset) next to the champion's: equal means "no new data", and no run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from mlops_assets import constants as C
from mlops_assets.data.fingerprint import frame_fingerprint
from mlops_assets.data.sources import landing_file
from mlops_assets.monitoring.labeled_traffic import latest_feedback_mtime
from mlops_assets.monitoring.logs import FEEDBACK, project_log_dir
from mlops_assets.records import latest, metadata_value
from mlops_assets.resources.storage import ParquetIOManager
from mlops_assets.resources.tracking import CHAMPION, MlflowTracking
from mlops_assets.spec import GeneratorSource, ProjectSpec
from mlops_assets.training.assets import load_training_inputs
from mlops_assets.training.split import Window


def newest_available_day(spec: ProjectSpec, root: Path, today: date) -> date | None:
    """The newest day whose batch can be ingested: yesterday for a generator, else the newest landing file's day.

    Bounded by the spec's ``end_date`` and ``start_date``; None when no landing file exists at all.
    """
    last = today - timedelta(days=1)
    if spec.end_date is not None:
        last = min(last, spec.end_date)
    if isinstance(spec.source, GeneratorSource):
        return last if last >= spec.start_date else None
    directory = Path(spec.source.directory)
    directory = directory if directory.is_absolute() else Path(root) / directory
    day = last
    while day >= spec.start_date:
        if landing_file(spec.source, directory, day).exists():
            return day
        day -= timedelta(days=1)
    return None


@dataclass(frozen=True)
class RetrainPlan:
    """The outcome of :func:`plan_retrain`.

    ``missing_days`` (features partitions to ingest) and ``stale_traffic`` (labelled-traffic days to
    re-materialize, with their newest feedback file's mtime) come first; ``training_set_version`` is known only
    when both are empty. ``blocked`` says why no retrain can be planned at all.
    """

    window: Window | None
    missing_days: list[str] = field(default_factory=list)
    stale_traffic: dict[str, int] = field(default_factory=dict)
    training_set_version: str | None = None
    champion_version: str | None = None
    champion_training_set: str | None = None
    champion_window: str = ""
    blocked: str | None = None

    @property
    def ready(self) -> bool:
        return self.blocked is None and not self.missing_days and not self.stale_traffic

    @property
    def new_data(self) -> bool:
        """Whether the retrain would see data the champion was not trained on (True while preparing)."""
        if not self.ready:
            return self.blocked is None
        return self.training_set_version != self.champion_training_set

    def no_new_data_reason(self) -> str:
        return (f"no new labelled data since champion v{self.champion_version} was trained on "
                f"{self.champion_window} (training set {self.champion_training_set}); the retrain is requested as "
                "soon as a new day lands or new feedback arrives")


def _recorded_feedback_mtime(instance: DagsterInstance, key: AssetKey, day: str) -> int | None:
    value = metadata_value(latest(instance, key, day), "feedback_mtime_ns")
    return int(value) if value is not None else None


def stale_traffic_days(
    spec: ProjectSpec, instance: DagsterInstance, root: Path, first: date, today: date, until_ns: int | None = None
) -> dict[str, int]:
    """Feedback days from `first` to `today` whose newest feedback file (written by `until_ns`) is newer than
    their labeled_traffic's last materialization."""
    log_dir = project_log_dir(root, spec.name)
    base = log_dir / FEEDBACK
    if not base.is_dir():
        return {}
    key = AssetKey([spec.name, C.LABELED_TRAFFIC])
    stale = {}
    for folder in sorted(base.glob("date=*")):
        day = folder.name.removeprefix("date=")
        if not first.isoformat() <= day <= today.isoformat() or day < spec.start_date.isoformat():
            continue
        mtime = latest_feedback_mtime(log_dir, day, until_ns)
        if mtime and (_recorded_feedback_mtime(instance, key, day) or 0) < mtime:
            stale[day] = mtime
    return stale


def plan_retrain(
    spec: ProjectSpec, instance: DagsterInstance, root: Path, store: ParquetIOManager, tracking: MlflowTracking,
    today: date, feedback_until_ns: int | None = None,
) -> RetrainPlan:
    """What a retrain requested now would train on (see the module docstring); `root` is the data directory (the
    landing files and the logs), `store` the IO manager the feature partitions are loaded through.

    `feedback_until_ns` bounds the feedback that must be in before the retrain (the files written by the time the
    retrain was confirmed): labels that keep streaming in go to the next one instead of holding this one back.
    """
    newest = newest_available_day(spec, root, today)
    if newest is None:
        return RetrainPlan(None, blocked=f"no landing file for any day from {spec.start_date} on")
    window = Window(newest, spec.training.window_days, spec.training.holdout_days)
    if window.start < spec.start_date:
        return RetrainPlan(window, blocked=(f"the training window {window.start}..{window.end} starts before the "
                                            f"project's start_date {spec.start_date}"))
    champion = tracking.alias_version(spec.name, CHAMPION)
    tags = tracking.client().get_model_version(spec.name, champion).tags if champion else {}
    recorded = dict(champion_version=champion, champion_training_set=tags.get(C.TRAINING_SET_VERSION_TAG),
                    champion_window=f"{tags.get('window_start', '?')}..{tags.get('window_end', '?')}")
    materialized = set(instance.get_materialized_partitions(AssetKey([spec.name, C.FEATURES_ASSET])))
    missing = [k for k in window.partition_keys() if k not in materialized]
    stale = (stale_traffic_days(spec, instance, root, window.start, today, feedback_until_ns)
             if spec.training.include_labeled_traffic else {})
    if missing or stale:
        return RetrainPlan(window, missing, stale, **recorded)
    data = load_training_inputs(spec, instance, store, window.end.isoformat()).assemble(spec)
    return RetrainPlan(window, training_set_version=frame_fingerprint(data), **recorded)
