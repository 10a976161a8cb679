"""The hyperparameter names of every allow-listed estimator, as a static table (checked against scikit-learn).

Why a table and not ``get_params()``: the spec is validated every time the definitions load (each code-server
start, `dagster definitions validate`, `mlops-assets check`), and importing scikit-learn's estimators costs about
a second there, which ``mlops_assets_tests/test_import_time.py`` keeps out of start-up. So the names are read
from scikit-learn once, written here, and a test (``test_spec_errors.py``) fails if they no longer match the
installed scikit-learn. After upgrading it, regenerate with ``python -m mlops_assets.training.estimator_params``.
``build_pipeline`` still checks against the class itself when it builds the model.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: estimator class import path (the values of ``ESTIMATORS``) -> its constructor's parameter names.
PARAMS: dict[str, tuple[str, ...]] = {
    # BEGIN GENERATED (python -m mlops_assets.training.estimator_params)
    'sklearn.dummy.DummyClassifier': ('constant', 'random_state', 'strategy'),
    'sklearn.dummy.DummyRegressor': ('constant', 'quantile', 'strategy'),
    'sklearn.ensemble.HistGradientBoostingClassifier': ('categorical_features', 'class_weight', 'early_stopping', 'interaction_cst', 'l2_regularization', 'learning_rate', 'loss', 'max_bins', 'max_depth', 'max_features', 'max_iter', 'max_leaf_nodes', 'min_samples_leaf', 'monotonic_cst', 'n_iter_no_change', 'random_state', 'scoring', 'tol', 'validation_fraction', 'verbose', 'warm_start'),
    'sklearn.ensemble.HistGradientBoostingRegressor': ('categorical_features', 'early_stopping', 'interaction_cst', 'l2_regularization', 'learning_rate', 'loss', 'max_bins', 'max_depth', 'max_features', 'max_iter', 'max_leaf_nodes', 'min_samples_leaf', 'monotonic_cst', 'n_iter_no_change', 'quantile', 'random_state', 'scoring', 'tol', 'validation_fraction', 'verbose', 'warm_start'),
    'sklearn.ensemble.RandomForestClassifier': ('bootstrap', 'ccp_alpha', 'class_weight', 'criterion', 'max_depth', 'max_features', 'max_leaf_nodes', 'max_samples', 'min_impurity_decrease', 'min_samples_leaf', 'min_samples_split', 'min_weight_fraction_leaf', 'monotonic_cst', 'n_estimators', 'n_jobs', 'oob_score', 'random_state', 'verbose', 'warm_start'),
    'sklearn.ensemble.RandomForestRegressor': ('bootstrap', 'ccp_alpha', 'criterion', 'max_depth', 'max_features', 'max_leaf_nodes', 'max_samples', 'min_impurity_decrease', 'min_samples_leaf', 'min_samples_split', 'min_weight_fraction_leaf', 'monotonic_cst', 'n_estimators', 'n_jobs', 'oob_score', 'random_state', 'verbose', 'warm_start'),
    'sklearn.linear_model.ElasticNet': ('alpha', 'copy_X', 'fit_intercept', 'l1_ratio', 'max_iter', 'positive', 'precompute', 'random_state', 'selection', 'tol', 'warm_start'),
    'sklearn.linear_model.LogisticRegression': ('C', 'class_weight', 'dual', 'fit_intercept', 'intercept_scaling', 'l1_ratio', 'max_iter', 'n_jobs', 'penalty', 'random_state', 'solver', 'tol', 'verbose', 'warm_start'),
    'sklearn.linear_model.Ridge': ('alpha', 'copy_X', 'fit_intercept', 'max_iter', 'positive', 'random_state', 'solver', 'tol'),
    # END GENERATED
}


def read_from_sklearn() -> dict[str, tuple[str, ...]]:
    """The table as the installed scikit-learn has it (imports scikit-learn)."""
    import importlib
    import inspect

    from mlops_assets.training.estimators import ESTIMATORS

    table = {}
    for path in sorted({p for by_task in ESTIMATORS.values() for p in by_task.values()}):
        module, _, name = path.rpartition(".")
        table[path] = tuple(sorted(inspect.signature(getattr(importlib.import_module(module), name)).parameters))
    return table


def render(table: dict[str, tuple[str, ...]], source: str) -> str:
    """`source` (this module's text) with the generated block replaced by `table`."""
    head, _, rest = source.partition("    # BEGIN GENERATED")
    _, _, tail = rest.partition("    # END GENERATED\n")
    body = "".join(f"    {path!r}: {names!r},\n" for path, names in table.items())
    return f"{head}    # BEGIN GENERATED (python -m mlops_assets.training.estimator_params)\n{body}    # END GENERATED\n{tail}"


if __name__ == "__main__":
    file = Path(__file__)
    file.write_text(render(read_from_sklearn(), file.read_text()))
    print(f"wrote {file}", file=sys.stderr)
