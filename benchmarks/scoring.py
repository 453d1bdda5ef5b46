"""Accuracy of equally weighted posterior draws against the exact posterior of a
Gaussian-mixture problem (lwflow's metric definitions; see :mod:`lwflow.evaluation.metrics`).

* ``w1_avg``, ``sliced_w1``: against an exact reference sample of the same size;
* ``mode_mass_error``: :math:`\\max_k |\\hat m_k - m_k|` between the share of draws
  assigned to component :math:`k` and its exact share inside the prior box;
* ``bridge_mass``: share of draws where the exact density is below ``bridge_fraction``
  times its maximum.

``floor_row`` scores a second exact sample the same way: no method can beat it at this size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lwflow.evaluation.metrics import average_marginal_w1, bridge_mass, component_masses, log_density_maximum, sliced_w1
from lwflow.problems import GaussianMixture, MixtureOf1D, Problem, ProductOfMarginals, Rings


def mode_masses(target: object, draws: np.ndarray, name: str = "") -> np.ndarray:
    """Share of ``draws`` in each mode of a benchmark target: a Gaussian mixture's components, the
    first coordinate's components of a product whose first marginal is a 1D mixture (paper A's
    non-Gaussian target), a ring's nearest radius, the likeliest component of a target with
    ``component_log_probs`` (:mod:`benchmarks.hard_problems`)."""
    if isinstance(target, GaussianMixture):
        return component_masses(draws, target.weights, target.means, target.covariances)
    if isinstance(target, ProductOfMarginals) and isinstance(target.marginals[0], MixtureOf1D):
        first = target.marginals[0]
        scores = np.stack([np.log(w) + c.logpdf(draws[:, 0]) for w, c in zip(first.weights, first.components)])
        return np.bincount(scores.argmax(0), minlength=len(first.components)) / len(draws)
    if hasattr(target, "component_log_probs"):
        scores = target.component_log_probs(draws)
        return np.bincount(scores.argmax(0), minlength=len(scores)) / len(draws)
    if isinstance(target, Rings):
        radius = np.linalg.norm(draws, axis=1)
        nearest = np.abs(radius[None, :] - np.asarray(target.radii)[:, None]).argmin(0)
        return np.bincount(nearest, minlength=len(target.radii)) / len(draws)
    raise ValueError(f"{name}: the benchmarks need a target with modes they can assign draws to")


@dataclass(frozen=True)
class Reference:
    """Exact draws, the density maximum and the exact per-component shares of one problem."""

    problem: Problem
    samples: np.ndarray
    log_p_max: float
    true_masses: np.ndarray

    @classmethod
    def of(cls, problem: Problem, n: int, seed: int) -> Reference:
        truth = problem.truth
        exact = truth.sample(200_000, np.random.default_rng(seed + 1))  # shares inside the box, to ~0.002
        try:
            masses = mode_masses(getattr(truth, "target", None), exact, problem.name)
        except ValueError:  # a target without modes to assign draws to (banana, two moons): no mode masses
            masses = np.array([])
        samples = truth.sample(n, np.random.default_rng(seed))
        return cls(problem, samples, log_density_maximum(truth.log_prob, samples), masses)

    def masses(self, draws: np.ndarray) -> np.ndarray:
        return mode_masses(self.problem.truth.target, draws)

    def score(self, draws: np.ndarray, bridge_fraction: float, n_projections: int = 100) -> dict[str, float | str]:
        draws = draws[np.all(np.isfinite(draws), axis=1)]
        masses = self.masses(draws) if self.true_masses.size else np.array([])
        return {
            "w1_avg": average_marginal_w1(draws, self.samples),
            "sliced_w1": sliced_w1(draws, self.samples, n_projections),
            "mode_mass_error": float(np.abs(masses - self.true_masses).max()) if masses.size else float("nan"),
            "mode_masses": " ".join(f"{m:.3f}" for m in masses),
            "bridge_mass": bridge_mass(self.problem.truth.log_prob(draws), self.log_p_max, bridge_fraction),
        }

    def floor_row(self, seed: int, bridge_fraction: float) -> dict[str, float | str]:
        independent = self.problem.truth.sample(len(self.samples), np.random.default_rng(seed + 2))
        return self.score(independent, bridge_fraction)

    def log_evidence(self) -> float:
        """:math:`\\log Z = \\log t(B) - \\log|B|`: a normalised likelihood ``t``, a uniform prior on the box ``B``."""
        low, high = self.problem.prior.support()
        return float(self.problem.truth.log_mass - np.log(np.asarray(high) - np.asarray(low)).sum())
