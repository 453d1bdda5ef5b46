"""What every density model offers (flows, RBIG, truncated models, mixtures): the interface
the metrics, the mixture, the check and a Posterior rely on."""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["DensityModel"]


class DensityModel(Protocol):
    """What the metrics, the mixture and a Posterior need from any model: numpy in, numpy out;
    ``sample(n, seed)`` is a function of ``seed`` alone."""

    def log_prob(self, theta: np.ndarray) -> np.ndarray: ...

    def sample(self, n: int, seed: int) -> np.ndarray: ...
