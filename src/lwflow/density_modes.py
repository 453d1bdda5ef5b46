"""Modes of a density: its local maxima, and which of them are separated by a valley.

A Gaussian mixture's maxima are found by fixed-point ascent from its means
(:func:`climb_to_maximum`, :func:`density_maxima`).  Maxima :math:`a, b` are *joined* if the
density never drops below ``valley_ratio`` :math:`\\times \\min(q(a), q(b))` on the segment
between them; each maximum hangs on the nearest higher maximum it is joined to, and the maxima
that hang on none are the modes (:func:`separated_groups`; so a low bump between two modes,
joined to both, cannot merge them).  The rule gives the *true* number of modes of a built-in
posterior (:func:`separated_mode_count`) and guards ``base_modes: auto``
(:func:`lwflow.fitting.modes.select_n_modes`) against one curved mode split into several
components.  A bump that the density barely dips below (paper B's five-mode target: three
maxima, dips to 81-91 % of the lower peak) is not a separate mode for the base: it needs no
low-density gap in the flow's image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["VALLEY_RATIO", "climb_to_maximum", "density_maxima", "separated_groups", "separated_mode_count"]

VALLEY_RATIO = 0.5
LogDensity = Callable[[np.ndarray], np.ndarray]


def _group_by_ascent(maxima: list[np.ndarray], log_q: np.ndarray, joined) -> list[list[int]]:
    """Forest over maxima: each points to the nearest higher joined maximum; one group per root."""
    order = list(np.argsort(-log_q, kind="stable"))
    parent = {}
    for rank, i in enumerate(order):
        higher = [j for j in order[:rank] if joined(i, j)]
        if higher:
            parent[i] = min(higher, key=lambda j: np.linalg.norm(maxima[i] - maxima[j]))

    def root(i: int) -> int:
        while i in parent:
            i = parent[i]
        return i

    groups: dict[int, list[int]] = {}
    for i in range(len(maxima)):
        groups.setdefault(root(i), []).append(int(i))
    return sorted(groups.values())


def climb_to_maximum(
    weights: np.ndarray, means: np.ndarray, precisions: np.ndarray, start: np.ndarray, n_steps: int = 500
) -> np.ndarray:
    """Fixed-point ascent of a Gaussian mixture's density from ``start`` to a local maximum:
    :math:`x \\leftarrow (\\sum_k r_k \\Sigma_k^{-1})^{-1} \\sum_k r_k \\Sigma_k^{-1} \\mu_k`."""
    x = np.array(start, dtype=float)
    weighted_means = np.einsum("kij,kj->ki", precisions, means)
    log_norms = np.log(weights) + 0.5 * np.linalg.slogdet(precisions)[1]
    for _ in range(n_steps):
        delta = x - means
        log_r = log_norms - 0.5 * np.einsum("ki,kij,kj->k", delta, precisions, delta)
        r = np.exp(log_r - log_r.max())
        new = np.linalg.solve(np.einsum("k,kij->ij", r, precisions), r @ weighted_means)
        if np.linalg.norm(new - x) < 1e-10:
            break
        x = new
    return new


def density_maxima(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, tolerance: float = 1e-4
) -> np.ndarray:
    """The distinct local maxima of a Gaussian mixture reached by ascent from its means
    (its modes: the true number of modes of a Gaussian-mixture posterior)."""
    weights, means = np.asarray(weights, dtype=float), np.asarray(means, dtype=float)
    precisions = np.linalg.inv(np.asarray(covariances, dtype=float))
    maxima: list[np.ndarray] = []
    for mean in means:
        peak = climb_to_maximum(weights / weights.sum(), means, precisions, mean)
        if all(np.linalg.norm(peak - m) > tolerance for m in maxima):
            maxima.append(peak)
    return np.array(maxima)


def _no_valley(log_density: LogDensity, a: np.ndarray, b: np.ndarray, valley_ratio: float, n_points: int = 25) -> bool:
    """True if ``log_density`` stays above ``log(valley_ratio) + min(end points)`` on the segment a-b."""
    path = a + np.linspace(0, 1, n_points)[:, None] * (b - a)
    log_q = log_density(path)
    return bool(log_q.min() >= np.log(valley_ratio) + min(log_q[0], log_q[-1]))


def separated_groups(log_density: LogDensity, maxima: list[np.ndarray], valley_ratio: float) -> list[list[int]]:
    """Maxima grouped by ascent: one group per maximum not joined (no deep valley) to a higher one."""
    heights = log_density(np.stack(maxima))
    return _group_by_ascent(maxima, heights, lambda i, j: _no_valley(log_density, maxima[i], maxima[j], valley_ratio))


def separated_mode_count(maxima: np.ndarray, log_density: LogDensity, valley_ratio: float = VALLEY_RATIO) -> int:
    """Number of modes of a density: its ``maxima`` (e.g. :func:`density_maxima`) grouped by
    the rule ``base_modes: auto`` applies, so that only maxima separated by a valley below
    ``valley_ratio`` times the lower peak count apart."""
    return len(separated_groups(log_density, list(maxima), valley_ratio))
