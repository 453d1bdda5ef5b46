"""A fitted density restricted to the prior's support: no mass where the prior has none.

A flow lives on :math:`\\mathbb R^d`; trained on draws from a box prior whose posterior
reaches a face of the box, it puts mass outside (7-15 % of the draws in a 5-D case).
lwflow truncates and renormalises:

.. math::  q_B(\\theta) = \\frac{q(\\theta)\\,\\mathbb 1[\\theta \\in B]}{q(B)}, \\qquad
           \\widehat{q(B)} = \\frac1N \\sum_{i=1}^N \\mathbb 1[\\theta_i \\in B],\\ \\theta_i \\sim q,

with :math:`B` the prior's bounding box (:meth:`lwflow.Prior.support`) and standard
error :math:`\\sqrt{(1 - \\hat m) / (N \\hat m)}` on :math:`\\log \\hat m`.  Samples are drawn
by rejection.  Why truncation and not a bijection of the support onto :math:`\\mathbb R^d`
(a logit map, as sbi and pocoMC do): it leaves the trained flow unchanged inside the
support, so the papers' models, whose posteriors sit far from the faces, keep their
densities exactly (every one of :math:`N` draws inside gives :math:`\\hat m = 1`); it holds
for half-bounded supports without choosing a map per side; and the adaptive proposals
need only :math:`\\log q_B`.  Its cost: near a face the density is that of a flow fitted to
a sharp edge (smoothed), and :math:`\\log q_B` carries the estimate's error above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lwflow.models.density import DensityModel

SUPPORT_DRAWS = 1 << 16


def inside(theta: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Rows of ``theta`` inside the box ``[low, high]`` (closed)."""
    return np.all((theta >= low) & (theta <= high), axis=1)


def bounded(low: np.ndarray, high: np.ndarray) -> bool:
    """Whether the box ``[low, high]`` bounds anything (some side finite)."""
    return bool(np.isfinite(low).any() or np.isfinite(high).any())


@dataclass
class TruncatedModel:
    """``model`` restricted to the box ``[low, high]`` and renormalised by its estimated
    mass there (module docstring); ``log_prob``/``sample`` like any :class:`DensityModel`."""

    model: DensityModel
    low: np.ndarray
    high: np.ndarray
    log_mass: float
    log_mass_se: float
    n_mass_draws: int

    @classmethod
    def fit(
        cls, model: DensityModel, low: np.ndarray, high: np.ndarray, seed: int, n_draws: int = SUPPORT_DRAWS
    ) -> TruncatedModel:
        """Estimate the model's mass inside the box from ``n_draws`` of its draws."""
        low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        n_inside = int(inside(model.sample(n_draws, seed), low, high).sum())
        if n_inside == 0:
            raise ValueError(
                f"the fitted model put none of {n_draws} draws inside the prior's support "
                f"{low.tolist()}-{high.tolist()}; it did not learn the posterior: check the weights' ESS "
                "and the training loss"
            )
        mass = n_inside / n_draws
        return cls(model, low, high, float(np.log(mass)), float(np.sqrt((1 - mass) / (n_draws * mass))), n_draws)

    @property
    def mass(self) -> float:
        return float(np.exp(self.log_mass))

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        return np.where(inside(theta, self.low, self.high), self.model.log_prob(theta) - self.log_mass, -np.inf)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` draws inside the box by rejection; batch ``k`` uses its own seed derived from
        ``seed``, so the result is a function of ``seed`` alone."""
        chunks, have, batch = [], 0, 0
        while have < n:
            wanted = int((n - have) / self.mass * 1.05) + 16
            batch_seed = seed if batch == 0 else int(np.random.SeedSequence([seed, batch]).generate_state(1)[0])
            draw = self.model.sample(wanted, batch_seed)
            draw = draw[inside(draw, self.low, self.high)]
            chunks.append(draw)
            have, batch = have + len(draw), batch + 1
        return np.concatenate(chunks)[:n]

    def state(self) -> dict[str, object]:
        """Plain values for a checkpoint (:func:`lwflow.models.flows.save_checkpoint`)."""
        return {
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "log_mass": self.log_mass,
            "log_mass_se": self.log_mass_se,
            "n_mass_draws": self.n_mass_draws,
        }


def restrict_to_support(
    model: DensityModel, low: np.ndarray, high: np.ndarray, seed: int, n_draws: int = SUPPORT_DRAWS
) -> DensityModel:
    """``model`` truncated to ``[low, high]`` (:class:`TruncatedModel`); unchanged where the box is all of R^d."""
    if not bounded(np.asarray(low, dtype=float), np.asarray(high, dtype=float)):
        return model
    return TruncatedModel.fit(model, low, high, seed, n_draws)
