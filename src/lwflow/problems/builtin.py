"""The built-in problems: the papers' targets as likelihoods under a uniform prior box, each
with its exact posterior; ``kind`` in a config entry names one of :data:`BUILTIN_KINDS`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lwflow.density_modes import density_maxima, separated_mode_count
from lwflow.problems.priors import ProductOfMarginals, UniformBox
from lwflow.problems.problem import Problem
from lwflow.problems.shapes import Banana, Rings, TwoMoons
from lwflow.problems.targets import GaussianMixture, MixtureOf1D, TruncatedToBox


def gaussian_mixture_problem(
    name: str,
    bounds: tuple[float, float],
    means: list[list[float]],
    covariances: list[list[list[float]]],
    weights: list[float] | None = None,
) -> Problem:
    """Uniform prior on ``[bounds]^d`` and a Gaussian-mixture likelihood (paper A, sec. 3)."""
    means_arr, covariances_arr = _numbers("means", means), _numbers("covariances", covariances)
    if means_arr.ndim != 2 or len(means_arr) == 0:
        raise ValueError(f"means must be a list of points (one list of d numbers per mode), got {means}")
    n, dim = means_arr.shape
    if covariances_arr.shape != (n, dim, dim):
        raise ValueError(
            f"covariances must hold one {dim}x{dim} matrix per mean ({n} means of dimension {dim}), "
            f"got shape {covariances_arr.shape}"
        )
    if weights is not None and len(weights) != n:
        raise ValueError(f"weights must hold one number per mean ({n}), got {len(weights)}")
    if not bounds[0] < bounds[1]:
        raise ValueError(f"bounds must be [low, high] with low < high, got {list(bounds)}")
    box = UniformBox(np.full(dim, bounds[0]), np.full(dim, bounds[1]))
    mixture = GaussianMixture(means_arr, covariances_arr, np.asarray(weights or [1.0] * n))
    maxima = density_maxima(mixture.weights, mixture.means, mixture.covariances)
    return Problem(
        name,
        box,
        mixture.log_prob,
        TruncatedToBox(mixture, box),
        n_modes=separated_mode_count(maxima, mixture.log_prob),
        n_density_maxima=len(maxima),
    )


def _numbers(key: str, value: object) -> np.ndarray:
    """``value`` as a float array of a regular shape, or an error naming ``key``."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must hold numbers in nested lists of equal length, got {value}") from None


def trimodal_product_problem(
    name: str,
    bounds: tuple[float, float],
    mode_locations: list[float],
    mode_skewness: float,
    mode_scale: float,
    gumbel_location: float,
    gumbel_scale: float,
    lognormal_shape: float,
    lognormal_location: float,
    lognormal_scale: float,
) -> Problem:
    """The 3D non-Gaussian target of paper A sec. 4.2 (our construction; the paper gives none).

    .. math::  p(\\theta) = \\Big[\\tfrac13 \\sum_{k=1}^{3} \\mathrm{SkewNormal}(\\theta_1;\\,
               \\alpha, c_k, s)\\Big]\\; \\mathrm{Gumbel}(\\theta_2;\\, m, \\beta)\\;
               \\mathrm{LogNormal}(\\theta_3;\\, \\sigma, \\ell, \\lambda)

    three skewed modes along :math:`\\theta_1`, a right-skewed :math:`\\theta_2` and a
    shifted log-normal :math:`\\theta_3`: a product of non-Gaussian laws with three modes.
    """
    from scipy import stats  # here, not at the top: 1.1 s to import, which other problems' jobs skip

    first = MixtureOf1D(
        tuple(stats.skewnorm(mode_skewness, loc=c, scale=mode_scale) for c in mode_locations),
        np.ones(len(mode_locations)),
    )
    target = ProductOfMarginals(
        (
            first,
            stats.gumbel_r(loc=gumbel_location, scale=gumbel_scale),
            stats.lognorm(lognormal_shape, loc=lognormal_location, scale=lognormal_scale),
        )
    )
    box = UniformBox(np.full(3, bounds[0]), np.full(3, bounds[1]))
    n_modes = len(mode_locations)
    return Problem(name, box, target.log_prob, TruncatedToBox(target, box), n_modes, n_density_maxima=n_modes)


def _shape_problem(
    name: str, low: list[float], high: list[float], target: Banana | TwoMoons | Rings, n_modes: int | None
) -> Problem:
    """Uniform prior on the box ``[low, high]`` and one of paper B's 2D shapes as likelihood."""
    box = UniformBox(np.asarray(low, dtype=float), np.asarray(high, dtype=float))
    return Problem(name, box, target.log_prob, TruncatedToBox(target, box), n_modes, n_density_maxima=n_modes)


def banana_problem(
    name: str, low: list[float], high: list[float], x1_std: float, curvature: float, x2_std: float
) -> Problem:
    """Paper B's banana (one curved mode): :class:`lwflow.problems.shapes.Banana`."""
    return _shape_problem(name, low, high, Banana(x1_std, curvature, x2_std), n_modes=1)


def two_moons_problem(name: str, low: list[float], high: list[float], noise: float) -> Problem:
    """Paper B's two moons: :class:`lwflow.problems.shapes.TwoMoons` (no clean mode count)."""
    return _shape_problem(name, low, high, TwoMoons(noise), n_modes=None)


def rings_problem(name: str, low: list[float], high: list[float], radii: list[float], noise: float) -> Problem:
    """Paper B's concentric rings: :class:`lwflow.problems.shapes.Rings` (a continuum of maxima, no mode count)."""
    return _shape_problem(name, low, high, Rings(tuple(radii), noise), n_modes=None)


BUILTIN_KINDS: dict[str, Callable[..., Problem]] = {
    "gaussian_mixture": gaussian_mixture_problem,
    "trimodal_product": trimodal_product_problem,
    "banana": banana_problem,
    "two_moons": two_moons_problem,
    "rings": rings_problem,
}
