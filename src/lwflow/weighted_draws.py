"""Statistics of a weighted sample that every layer uses: the Kish ESS, the largest weight's
share, and the fewest heaviest draws that carry nearly all the weight (validation splits of
flows and RBIG)."""

from __future__ import annotations

import numpy as np

__all__ = ["effective_sample_size", "heaviest_share", "max_weight_share"]


def heaviest_share(weights: np.ndarray, index: np.ndarray, tail: float = 1e-6) -> np.ndarray:
    """The fewest indices, heaviest first, that carry ``1 - tail`` of the weight of ``index``.

    Dropping a weight share of at most ``tail`` changes a weighted average (a validation
    loss, a weighted quantile) by at most about ``tail`` times its scale, and makes it many
    times cheaper when most prior samples have negligible likelihood.  Equal weights keep
    every index (below a million of them).
    """
    order = index[np.argsort(weights[index])[::-1]]
    cumulative = np.cumsum(weights[order])
    return order[: int(np.searchsorted(cumulative, (1 - tail) * cumulative[-1])) + 1]


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish ESS, :math:`(\\sum w)^2 / \\sum w^2`; between 1 and the number of samples."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w**2))


def max_weight_share(weights: np.ndarray) -> float:
    """Largest normalised weight, :math:`\\max_i w_i / \\sum_j w_j`."""
    w = np.asarray(weights, dtype=float)
    return float(w.max() / w.sum())
