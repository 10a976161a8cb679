"""Paired bootstrap of the difference in one metric between a challenger and a champion model.

Sign convention
---------------
``diff`` is always ``metric(challenger) - metric(champion)`` in the metric's own units, so for a loss
(rmse, log_loss, ...) a *negative* diff means the challenger is better. The ``improvement`` properties
re-sign it so that **positive always means the challenger is better**: ``improvement = diff`` for
higher-is-better metrics and ``-diff`` for lower-is-better ones. Gates use the improvement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from mlops_assets.evaluation.metrics import get_metric, validate_inputs

_BLOCK_ELEMENTS = 2_000_000  # resamples are drawn in blocks of about this many (row, resample) cells


@dataclass(frozen=True)
class BootstrapResult:
    """A paired-bootstrap comparison of a challenger with a champion on one metric.

    Attributes
    ----------
    metric : str
    challenger, champion : float
        The metric of each model on the full sample.
    diff : float
        ``challenger - champion`` on the full sample (metric units; see the module sign convention).
    ci_low, ci_high : float
        Percentile confidence interval of ``diff`` at level ``1 - alpha``; NaN if no resample defined it.
    n_boot : int
        Resamples drawn.
    higher_is_better : bool
        The metric's direction.
    alpha : float
        One minus the confidence level.
    n_undefined : int
        Resamples on which the metric was undefined (e.g. a single class for roc_auc), left out of the CI.
    """

    metric: str
    challenger: float
    champion: float
    diff: float
    ci_low: float
    ci_high: float
    n_boot: int
    higher_is_better: bool
    alpha: float = 0.05
    n_undefined: int = 0

    @property
    def improvement(self) -> float:
        """``diff`` signed so that positive means the challenger is better."""
        return self.diff if self.higher_is_better else -self.diff

    @property
    def improvement_ci(self) -> tuple[float, float]:
        """The CI of ``improvement`` as ``(low, high)``."""
        if self.higher_is_better:
            return self.ci_low, self.ci_high
        return -self.ci_high, -self.ci_low

    def not_worse(self, tolerance: float) -> bool:
        """Whether the whole CI of the improvement lies at or above ``-tolerance``.

        Parameters
        ----------
        tolerance : float
            Non-negative loss the challenger may have, in metric units (0.01 = one AUC point).

        Returns
        -------
        bool
            False when the CI is NaN (not enough information is never "not worse").
        """
        if tolerance < 0:
            raise ValueError(f"tolerance must be non-negative, got {tolerance}")
        return bool(self.improvement_ci[0] >= -tolerance)

    def significantly_worse(self) -> bool:
        """Whether the whole CI of the improvement lies below zero: the challenger is worse beyond resampling noise.

        Returns
        -------
        bool
            False when the CI is NaN (callers must treat an undefined CI on its own).

        Examples
        --------
        >>> BootstrapResult("roc_auc", 0.80, 0.8015, -0.0015, -0.0029, -0.00005, 1000, True).significantly_worse()
        True
        >>> BootstrapResult("rmse", 1.10, 1.00, 0.10, 0.05, 0.15, 1000, False).significantly_worse()
        True
        """
        return bool(self.improvement_ci[1] < 0)

    def superior(self) -> bool:
        """Whether the whole CI of the improvement lies above zero: the challenger is better beyond resampling noise.

        Returns
        -------
        bool
            False when the CI is NaN or touches zero.

        Examples
        --------
        >>> BootstrapResult("roc_auc", 0.81, 0.80, 0.01, -0.002, 0.02, 1000, True).superior()
        False
        >>> BootstrapResult("rmse", 0.90, 1.00, -0.10, -0.15, -0.05, 1000, False).superior()
        True
        """
        return bool(self.improvement_ci[0] > 0)


def resample_counts(rng: np.random.Generator, n_rows: int, n_samples: int) -> np.ndarray:
    """How often each of ``n_rows`` rows is drawn in each of ``n_samples`` bootstrap resamples, shape (b, n)."""
    idx = rng.integers(0, n_rows, size=(n_samples, n_rows))
    idx += (np.arange(n_samples) * n_rows)[:, None]
    return np.bincount(idx.ravel(), minlength=n_samples * n_rows).reshape(n_samples, n_rows).astype(float)


def paired_bootstrap_diff(
    y_true: ArrayLike,
    score_challenger: ArrayLike,
    score_champion: ArrayLike,
    metric: str,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> BootstrapResult:
    """Percentile CI of ``metric(challenger) - metric(champion)`` from a paired bootstrap.

    Each resample draws ``n`` row indices with replacement and evaluates *both* models on the same rows,
    so the variation shared by the two models (hard rows, label noise) cancels out of the difference.
    Resamples are represented as row counts and every metric is evaluated vectorised over them.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    score_challenger, score_champion : array-like of shape (n,)
        Probabilities of the positive class (classification metrics) or predictions (regression).
    metric : str
        A name in ``METRICS``.
    n_boot : int, default 1000
    seed : int, default 0
        Seeds ``np.random.default_rng``; the same seed and inputs give the same result.
    alpha : float, default 0.05
        The CI covers ``1 - alpha``.

    Returns
    -------
    BootstrapResult

    Examples
    --------
    >>> y = [0, 1, 0, 1, 1, 0]
    >>> r = paired_bootstrap_diff(y, [.2, .8, .3, .7, .6, .4], [.4, .6, .5, .5, .4, .6], "brier", n_boot=200)
    >>> r.improvement > 0
    True
    """
    info = get_metric(metric)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    y, challenger = validate_inputs(info.task, y_true, score_challenger)
    _, champion = validate_inputs(info.task, y_true, score_champion)

    rng = np.random.default_rng(seed)
    n = len(y)
    block = max(1, _BLOCK_ELEMENTS // n)
    diffs = np.empty(n_boot)
    for start in range(0, n_boot, block):
        counts = resample_counts(rng, n, min(block, n_boot - start))
        diffs[start : start + len(counts)] = info.weighted_fn(y, challenger, counts) - info.weighted_fn(
            y, champion, counts
        )

    defined = diffs[~np.isnan(diffs)]
    ci_low, ci_high = np.quantile(defined, [alpha / 2, 1 - alpha / 2]) if len(defined) else (np.nan, np.nan)
    value_challenger, value_champion = info.fn(y, challenger), info.fn(y, champion)
    return BootstrapResult(
        metric=metric,
        challenger=value_challenger,
        champion=value_champion,
        diff=value_challenger - value_champion,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        n_boot=n_boot,
        higher_is_better=info.higher_is_better,
        alpha=alpha,
        n_undefined=int(n_boot - len(defined)),
    )
