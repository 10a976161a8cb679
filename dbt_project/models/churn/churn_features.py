"""Churn features for the days being built, as a warehouse table (Dagster splits it into one Parquet file a day).

The feature logic itself lives in mlops_assets.features.churn, so serving computes the same values.
"""

KEYS = ["customer_id", "event_time", "event_date"]
TARGET = "churned"


def model(dbt, session):
    from mlops_assets.features.churn import compute_churn_features

    dbt.config(materialized="table")
    raw = dbt.ref("stg_churn").df()
    features = compute_churn_features(raw)
    for i, key in enumerate(KEYS):
        features.insert(i, key, raw[key].to_numpy())
    features[TARGET] = raw[TARGET].astype("int64").to_numpy()
    return features
