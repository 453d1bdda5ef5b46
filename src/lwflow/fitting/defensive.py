"""The defensive mixture :math:`q = (1 - \\epsilon)\\, f + \\epsilon\\, \\pi` of a fitted density
:math:`f` and the prior :math:`\\pi`: its draws and its log-density.  Adaptive rounds propose
from it and the check of every fit draws from it; the prior's share keeps the proposal's
density positive wherever the posterior's is (Hesterberg 1995)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lwflow.models.density import DensityModel
    from lwflow.problems.priors import Prior


def proposal_log_prob(flow: DensityModel | None, log_prior: np.ndarray, theta: np.ndarray, share: float) -> np.ndarray:
    """:math:`\\log q_s`: the prior for round 0, else the defensive mixture of flow and prior."""
    if flow is None:
        return log_prior
    return np.logaddexp(math.log1p(-share) + flow.log_prob(theta), math.log(share) + log_prior)


def defensive_draws(prior: Prior, flow: DensityModel, n: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of :math:`(1 - \\epsilon) f + \\epsilon \\pi`, stratified: ``round(share n)`` from the
    prior (last), the rest from the flow (seeded from ``rng``)."""
    n_prior = int(round(share * n))
    flow_draws = flow.sample(n - n_prior, int(rng.integers(2**31)))
    return np.concatenate([flow_draws, prior.sample(n_prior, rng)])
