"""The baseline comparison as the dimension grows: a two-mode Gaussian mixture under a
uniform prior box in 2, 5 and 10 dimensions.

The effective sample size of :math:`n` prior draws weighted by the likelihood is about

.. math::  n \\, \\frac{(\\int_B L)^2}{|B| \\int_B L^2}
           \\;\\approx\\; n\\, \\frac{2 (4\\pi)^{d/2}\\sqrt{\\det\\Sigma}}{|B|}

for two well-separated equal modes with covariance :math:`\\Sigma`, so it falls
geometrically with :math:`d`: prior sampling, and the likelihood-weighted flows built on
it, break down once it reaches a handful.  The table shows where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from benchmarks.baselines import BaselineSettings, compare
from lwflow.problems import Problem, gaussian_mixture_problem


def two_mode_problem(dim: int, separation: float = 4.0, half_width: float = 8.0) -> Problem:
    """Equal modes at :math:`\\pm` ``separation`` on the first axis, unit covariance, prior box
    :math:`[-w, w]^d`."""
    means = np.zeros((2, dim))
    means[:, 0] = [-separation, separation]
    covariances = np.stack([np.eye(dim)] * 2)
    return gaussian_mixture_problem(f"two_mode_{dim}d", (-half_width, half_width), means.tolist(), covariances.tolist())


def scaling(
    dims: list[int],
    seeds: list[int],
    settings: BaselineSettings,
    flow: dict,
    training: dict,
    clipping: dict,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """:func:`benchmarks.baselines.compare` on :func:`two_mode_problem` of each dimension
    (dynesty with the smallest ``nlive`` only)."""
    problems = {f"two_mode_{d}d": two_mode_problem(d) for d in dims}
    settings = replace(settings, nlive=settings.nlive[:1])
    return compare(problems, seeds, settings, flow, training, clipping, log)
