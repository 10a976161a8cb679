"""A small churn project (passthrough features, 4 train + 2 holdout days) for the training tests."""

from __future__ import annotations

from mlops_assets.spec import PassthroughFeatures, load_spec

from ..helpers import PROJECTS

DAYS = [f"2026-01-0{i}" for i in range(1, 7)]  # 4 train days + 2 holdout days
FEATURES = ["tenure_months", "contract", "monthly_charges", "support_calls", "late_payments", "payment_method", "region"]


def small_churn(**evaluation):
    spec = load_spec(PROJECTS / "churn.yaml")
    return spec.model_copy(update={
        "features": PassthroughFeatures(kind="passthrough", columns=FEATURES),
        "training": spec.training.model_copy(update={"window_days": 4, "holdout_days": 2}),
        "evaluation": spec.evaluation.model_copy(update=evaluation),
    })
