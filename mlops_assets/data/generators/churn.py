"""Synthetic subscription-churn batches: realistic, seeded per (seed, day), with drift knobs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.data.generators.common import (
    BatchRequest,
    Drift,
    calibrate_offset,
    draw_rows,
    event_times,
    make_ids,
    sigmoid,
)

CATEGORIES = {
    "contract": ("month_to_month", "one_year", "two_year"),
    "payment_method": ("electronic_check", "mailed_check", "bank_transfer", "credit_card"),
    "internet_service": ("dsl", "fiber", "none"),
    "region": ("north", "south", "east", "west"),
}
LABEL = "churned"
_DAYS_PER_MONTH = 30.4375

# Logistic model of churn: intercept and coefficients on the terms built in `_terms`. The base intercept gives
# a churn rate of about 0.25; the alternate set (concept drift) flips or moves most drivers.
BASE_INTERCEPT = -1.35
BASE_COEF = {
    "month_to_month": 1.1, "two_year": -0.9, "charges": 0.45, "support_calls": 0.3, "late_payments": 0.35,
    "electronic_check": 0.45, "log_tenure": -0.45, "senior": 0.25, "fiber": 0.3, "usage": -0.25,
    "num_products": -0.1, "south": 0.0, "west": 0.0, "dissatisfaction": 0.5,
}  # fmt: skip
ALT_COEF = {
    "month_to_month": -0.5, "two_year": 0.8, "charges": -0.5, "support_calls": -0.1, "late_payments": 0.0,
    "electronic_check": -0.3, "log_tenure": 0.35, "senior": -0.2, "fiber": -0.4, "usage": 0.6,
    "num_products": 0.35, "south": 0.9, "west": -0.6, "dissatisfaction": 0.5,
}  # fmt: skip


def generate_churn(request: BatchRequest) -> pd.DataFrame:
    """Generate one day of customer snapshots with a ``churned`` label.

    Called as every generator is (``generators.common.BatchRequest``). A drift window's
    ``label_rate`` shifts the positive-label rate (prior shift); the label itself takes no covariate drift.

    Returns
    -------
    pandas.DataFrame
        The columns of ``projects/churn.yaml`` in order.

    Examples
    --------
    >>> import datetime
    >>> df = generate_churn(BatchRequest(datetime.date(2026, 1, 1), rows=3, seed=1))
    >>> df["customer_id"].tolist()
    ['C20260101-000001', 'C20260101-000002', 'C20260101-000003']
    """
    day, n = request.day, request.rows
    rng = request.rng()
    knobs = request.knobs(CATEGORIES)
    num, cat = knobs.numeric, knobs.category

    event_time = event_times(rng, day, n)
    region = cat("region", rng.choice(4, size=n, p=[0.3, 0.25, 0.25, 0.2]))
    senior = rng.random(n) < 0.16
    tenure = num("tenure_months", np.minimum(np.floor(rng.gamma(1.4, 22.0, n)), 120).astype(np.int64))
    signup_days = np.floor((tenure + rng.random(n)) * _DAYS_PER_MONTH).astype("timedelta64[D]")
    signup_date = (np.datetime64(day, "D") - signup_days).astype("datetime64[ns]")

    # Longer-tenured customers are on longer contracts; month-to-month customers pay by electronic check more.
    contract_logits = np.stack([np.zeros(n), -1.0 + 0.035 * tenure, -2.4 + 0.055 * tenure], axis=1)
    contract_p = np.exp(contract_logits) / np.exp(contract_logits).sum(axis=1, keepdims=True)
    contract = cat("contract", draw_rows(rng, contract_p))
    pay_p = np.where((contract == 0)[:, None], [0.45, 0.18, 0.19, 0.18], [0.2, 0.2, 0.3, 0.3])
    payment = cat("payment_method", draw_rows(rng, pay_p))
    internet = cat("internet_service", rng.choice(3, size=n, p=[0.34, 0.44, 0.22]))
    has_internet = internet != 2

    num_products = num("num_products", np.minimum(1 + rng.poisson(0.6 + 0.6 * has_internet), 8))
    service_fee = np.array([28.0, 52.0, 0.0])[internet]
    monthly = 18.0 + service_fee + 11.0 * (num_products - 1) + 4.0 * senior + rng.normal(0.0, 7.0, n)
    monthly = num("monthly_charges", np.clip(monthly, 10.0, 300.0))
    total = np.clip(monthly * tenure * rng.normal(1.0, 0.05, n), 0.0, 40000.0)
    total = num("total_charges", np.where(tenure == 0, np.nan, total))  # not billed yet: brand-new customers

    dissatisfaction = rng.standard_normal(n)  # latent: drives calls and churn, never observed
    fiber = internet == 1
    calls_rate = np.exp(-0.2 + 0.45 * fiber + 0.08 * num_products + 0.5 * dissatisfaction - 0.004 * tenure)
    support_calls = num("support_calls", np.minimum(rng.poisson(calls_rate), 60))
    usage_mean = (150.0 + 80.0 * num_products) * np.array([1.0, 1.35, 0.55])[internet]
    usage = num("usage_minutes", np.clip(rng.gamma(2.0, usage_mean / 2.0), 0.0, 20000.0))
    echeck = payment == 0
    late_rate = (0.15 + 0.5 * echeck + 0.15 * senior) * (1.0 + tenure / 24.0) * np.exp(0.3 * dissatisfaction)
    late_payments = num("late_payments", np.minimum(rng.poisson(late_rate), np.minimum(tenure, 36)))

    terms = {
        "month_to_month": contract == 0, "two_year": contract == 2, "charges": (monthly - 70.0) / 30.0,
        "support_calls": support_calls, "late_payments": late_payments, "electronic_check": echeck,
        "log_tenure": np.log1p(tenure), "senior": senior, "fiber": fiber,
        "usage": np.log1p(usage) - 6.0, "num_products": num_products, "south": region == 1, "west": region == 3,
        "dissatisfaction": dissatisfaction,
    }  # fmt: skip
    churned = _draw_label(rng.random(n), terms, knobs)
    knobs.check_drawn("churn")

    return pd.DataFrame(
        {
            "customer_id": make_ids("C", day, n),
            "event_time": event_time,
            "signup_date": signup_date,
            "tenure_months": tenure.astype(np.int64),
            "contract": _names("contract", contract),
            "payment_method": _names("payment_method", payment),
            "internet_service": _names("internet_service", internet),
            "region": _names("region", region),
            "senior_citizen": senior.astype(bool),
            "num_products": num_products.astype(np.int64),
            "monthly_charges": monthly.astype(np.float64),
            "total_charges": total.astype(np.float64),
            "support_calls": support_calls.astype(np.int64),
            "usage_minutes": usage.astype(np.float64),
            "late_payments": late_payments.astype(np.int64),
            LABEL: churned,
        }
    )


def _draw_label(u: np.ndarray, terms: dict[str, np.ndarray], knobs: Drift) -> np.ndarray:
    """Bernoulli labels from the (possibly concept-drifted, prior-shifted) logistic model, using uniforms `u`."""
    base = BASE_INTERCEPT + sum(BASE_COEF[k] * v for k, v in terms.items())
    logit, c, rate = base, knobs.concept, knobs.label_rate
    if c > 0:
        logit = (1.0 - c) * base + c * sum(ALT_COEF[k] * v for k, v in terms.items())
        if rate is None:  # concept drift keeps the batch's expected churn rate
            rate = float(sigmoid(base).mean()) if len(u) else None
    if rate is not None:
        logit = logit + calibrate_offset(logit, rate)
    return (u < sigmoid(np.asarray(logit, dtype=np.float64))).astype(np.int64)


def _names(column: str, codes: np.ndarray) -> np.ndarray:
    return np.array(CATEGORIES[column], dtype=object)[codes]
