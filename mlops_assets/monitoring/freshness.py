"""Freshness policies per project: daily data must land within ~36 h, the model must not outlive its age limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Iterable, Sequence

from dagster import AssetKey, AssetsDefinition, AssetSpec, FreshnessPolicy

from mlops_assets import constants as C
from mlops_assets.spec import ProjectSpec

#: A daily batch for day D lands after D ends (the ingest schedule runs at 01:00): 36 h is a missed day plus slack.
DATA_FAIL = timedelta(hours=36)
DATA_WARN = timedelta(hours=26)
ENDPOINT = C.ENDPOINT


def freshness_policies(spec: ProjectSpec) -> dict[str, FreshnessPolicy]:
    """Policies by asset name: raw_data/features 36 h; champion and endpoint ``monitoring.max_model_age_days``.

    Examples
    --------
    >>> from mlops_assets.spec import load_spec
    >>> sorted(freshness_policies(load_spec("projects/churn.yaml")))
    ['champion', 'endpoint', 'features', 'raw_data']
    """
    data = FreshnessPolicy.time_window(fail_window=DATA_FAIL, warn_window=DATA_WARN)
    age = timedelta(days=spec.monitoring.max_model_age_days)
    model = FreshnessPolicy.time_window(fail_window=age, warn_window=age * 0.75)
    return {C.RAW_DATA: data, C.FEATURES_ASSET: data, C.CHAMPION: model, ENDPOINT: model}


def policies_by_key(specs: Iterable[ProjectSpec]) -> dict[AssetKey, FreshnessPolicy]:
    """Every project's policies keyed by asset key (what the freshness alert sensor watches)."""
    return {AssetKey([s.name, name]): p for s in specs for name, p in freshness_policies(s).items()}


def apply_freshness(spec: ProjectSpec, assets: Sequence[AssetsDefinition]) -> list[AssetsDefinition]:
    """The project's assets with its freshness policies attached (works on multi-assets such as dbt's too).

    Definitions holding none of the policy keys are returned unchanged; a policy whose asset is not among
    `assets` (e.g. the endpoint before the deployment stage is wired) is simply not applied.
    """
    by_key = {AssetKey([spec.name, name]): p for name, p in freshness_policies(spec).items()}

    def attach(s: AssetSpec) -> AssetSpec:
        return s.replace_attributes(freshness_policy=by_key[s.key]) if s.key in by_key else s

    return [a.map_asset_specs(attach) if any(k in by_key for k in a.keys) else a for a in assets]
