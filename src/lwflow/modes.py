"""How many posterior modes? Chosen before training, so the base matches the topology.

Rule (``base_modes: auto``):

1. Resample ``n`` points from the weighted, standardised prior samples (probability
   :math:`\\propto w_i`), an approximately unweighted posterior sample.
2. Fit full-covariance Gaussian mixtures with :math:`K = 1..K_{max}` (scikit-learn, fixed
   seed) and take the one with the lowest BIC, :math:`-2\\log\\hat L + p\\log n`.
3. Guard against one curved mode split into several components: components :math:`i, j`
   belong to the same mode if the fitted mixture density never drops below
   ``valley_ratio`` :math:`\\times \\min(q(\\mu_i), q(\\mu_j))` on the segment between their
   means.  The number of modes is the number of connected groups; each group's samples
   become one base component.

Example::

    selection = select_n_modes(u, weights, k_max=6, seed=0)
    selection.n_modes, selection.bic
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ModeSelection:
    """The chosen number of modes and the evidence for it."""

    n_modes: int
    bic_best_k: int
    bic: dict[int, float]
    groups: list[list[int]]

    def as_dict(self) -> dict[str, object]:
        record = asdict(self)
        record["bic"] = {str(k): v for k, v in self.bic.items()}
        return record


def _connected_groups(n: int, edges: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in edges:
        parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values())


def _no_valley(mixture, i: int, j: int, valley_ratio: float, n_points: int = 25) -> bool:
    means = mixture.means_
    path = means[i] + np.linspace(0, 1, n_points)[:, None] * (means[j] - means[i])
    log_q = mixture.score_samples(path)
    return bool(log_q.min() >= np.log(valley_ratio) + min(log_q[0], log_q[-1]))


def select_n_modes(
    u: np.ndarray,
    weights: np.ndarray,
    k_max: int = 6,
    seed: int = 0,
    n_resample: int = 5000,
    valley_ratio: float = 0.5,
) -> ModeSelection:
    """Number of modes of the weighted sample ``(u, weights)`` by BIC plus the valley guard."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    points = u[rng.choice(len(u), size=n_resample, p=weights / weights.sum())]
    fits = {
        k: GaussianMixture(k, covariance_type="full", n_init=3, random_state=seed).fit(points)
        for k in range(1, k_max + 1)
    }
    bic = {k: float(fit.bic(points)) for k, fit in fits.items()}
    best_k = min(bic, key=bic.get)
    best = fits[best_k]
    edges = [(i, j) for i in range(best_k) for j in range(i + 1, best_k) if _no_valley(best, i, j, valley_ratio)]
    groups = _connected_groups(best_k, edges)
    return ModeSelection(n_modes=len(groups), bic_best_k=best_k, bic=bic, groups=groups)
