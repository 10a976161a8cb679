"""Churn feature definitions: the one place they live, used by the dbt model and at serving time."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Raw columns the churn features read.
INPUT_COLUMNS = [
    "tenure_months",
    "contract",
    "payment_method",
    "internet_service",
    "region",
    "senior_citizen",
    "num_products",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "usage_minutes",
    "late_payments",
]

#: Feature columns produced, in order.
FEATURE_COLUMNS = [
    "tenure_months",
    "monthly_charges",
    "total_charges_filled",
    "avg_monthly_spend",
    "charges_ratio",
    "support_calls",
    "support_calls_per_year",
    "usage_minutes",
    "usage_per_dollar",
    "late_payments",
    "late_payment_rate",
    "num_products",
    "senior_citizen",
    "is_month_to_month",
    "contract",
    "payment_method",
    "internet_service",
    "region",
]


def compute_churn_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Compute churn model features from raw (validated) customer rows.

    Vectorised and row-wise independent, so one row at serving time gets exactly the
    values it gets in a daily batch.

    Parameters
    ----------
    raw : pandas.DataFrame
        Rows with at least :data:`INPUT_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        :data:`FEATURE_COLUMNS`, same index as ``raw``.

    Examples
    --------
    >>> row = pd.DataFrame([dict(tenure_months=0, contract="month_to_month", payment_method="mailed_check",
    ...     internet_service="dsl", region="north", senior_citizen=False, num_products=1, monthly_charges=50.0,
    ...     total_charges=None, support_calls=1, usage_minutes=300.0, late_payments=0)])
    >>> float(compute_churn_features(row)["total_charges_filled"].iloc[0])
    50.0
    """
    missing = [c for c in INPUT_COLUMNS if c not in raw.columns]
    if missing:
        raise KeyError(f"churn features need raw columns {missing}; they are missing from the input")
    tenure = raw["tenure_months"].astype("float64")
    monthly = raw["monthly_charges"].astype("float64")
    # A brand-new customer has no billed total yet: count one month of charges.
    total = raw["total_charges"].astype("float64").fillna(monthly)
    months_billed = np.maximum(tenure, 1.0)
    out = pd.DataFrame(index=raw.index)
    out["tenure_months"] = raw["tenure_months"].astype("int64")
    out["monthly_charges"] = monthly
    out["total_charges_filled"] = total
    out["avg_monthly_spend"] = total / months_billed
    out["charges_ratio"] = monthly / np.maximum(total / months_billed, 1.0)
    out["support_calls"] = raw["support_calls"].astype("int64")
    out["support_calls_per_year"] = raw["support_calls"].astype("float64") * 12.0 / months_billed
    out["usage_minutes"] = raw["usage_minutes"].astype("float64")
    out["usage_per_dollar"] = out["usage_minutes"] / np.maximum(monthly, 1.0)
    out["late_payments"] = raw["late_payments"].astype("int64")
    out["late_payment_rate"] = raw["late_payments"].astype("float64") / months_billed
    out["num_products"] = raw["num_products"].astype("int64")
    out["senior_citizen"] = raw["senior_citizen"].astype("bool")
    out["is_month_to_month"] = raw["contract"].astype("string").eq("month_to_month").astype("bool")
    for col in ("contract", "payment_method", "internet_service", "region"):
        out[col] = raw[col].astype("string").astype(object)
    return out[FEATURE_COLUMNS]
