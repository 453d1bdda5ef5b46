"""Harder benchmark problems of our own construction, each with an exact sampler, a normalised
log-density and the exact mass of the prior box (so the exact :math:`\\log Z`), and a way to
assign draws to its modes.  Under a uniform prior box each likelihood is the target itself.

* ``mirror_bananas_6d``: two curved modes that are mirror images under
  :math:`\\theta_1 \\mapsto -\\theta_1`, a symmetry of the likelihood (:class:`MirrorBananas`);
* ``box_faces_10d``: two Gaussian modes in 10-D whose centres sit on or near the box's faces,
  so that a quarter to a half of each marginal is cut off;
* ``three_unequal_6d``: three correlated Gaussian modes of weights 0.6, 0.3 and 0.1 in 6-D;
* ``heavy_tails_4d``: two Student-t modes (3 degrees of freedom) in 4-D
  (:class:`StudentTMixture`): tails that fall as a power, not as a Gaussian's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from lwflow.problems import Problem, TruncatedToBox, UniformBox, gaussian_mixture_problem

_QMC_POINTS = 1_000_000  # scipy's multivariate-t CDF: about 1e-5 absolute at this many points


@dataclass(frozen=True)
class MirrorBananas:
    """Two mirror-image curved modes in ``dim`` dimensions.  One mode:
    :math:`\\theta_j \\sim \\mathcal N(0, 1)` for :math:`j \\ge 2` and

    .. math::  \\theta_1 \\mid \\theta_{2:d} \\sim \\mathcal N\\big(a + c\\,(\\theta_2^2 + \\theta_3^2),\\, s^2\\big),

    a paraboloid bent along two coordinates (the map to :math:`\\theta_1 - c(\\theta_2^2 +
    \\theta_3^2)` has unit Jacobian, so it is normalised); the other is its image under
    :math:`R: \\theta_1 \\mapsto -\\theta_1`, and :math:`p = \\tfrac12 [b(\\theta) + b(R\\theta)]`."""

    dim: int
    offset: float
    curvature: float
    x1_std: float

    def _centre(self, x: np.ndarray) -> np.ndarray:
        return self.offset + self.curvature * (x[:, 1] ** 2 + x[:, 2] ** 2)

    def component_log_probs(self, x: np.ndarray) -> np.ndarray:
        """``(2, n)``: :math:`\\log \\tfrac12 b(\\theta)` and :math:`\\log \\tfrac12 b(R\\theta)`."""
        x = np.atleast_2d(x)
        rest = stats.norm.logpdf(x[:, 1:]).sum(1) + np.log(0.5)
        centre = self._centre(x)
        return np.stack([stats.norm.logpdf(sign * x[:, 0], centre, self.x1_std) + rest for sign in (1, -1)])

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return logsumexp(self.component_log_probs(x), axis=0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x = rng.normal(size=(n, self.dim))
        x[:, 0] = self._centre(x) + self.x1_std * x[:, 0]
        x[:, 0] *= rng.choice([-1.0, 1.0], size=n)
        return x

    def box_mass(self, low: np.ndarray, high: np.ndarray, nodes: int = 400) -> float:
        """Each mode's mass: the :math:`\\theta_1` slab's normal probability integrated over
        :math:`(\\theta_2, \\theta_3)` by a Gauss-Legendre rule of ``nodes`` x ``nodes`` (the
        integrand is smooth on the scale 0.1: 400 nodes agree with 2-D adaptive quadrature to
        1e-12, 29 s where this takes 0.03 s), times the other coordinates' normal masses."""
        points, node_weights = np.polynomial.legendre.leggauss(nodes)
        grids = [0.5 * (hi - lo) * points + 0.5 * (hi + lo) for lo, hi in zip(low[1:3], high[1:3])]
        weights = [0.5 * (hi - lo) * node_weights * stats.norm.pdf(g) for lo, hi, g in zip(low[1:3], high[1:3], grids)]
        x2, x3 = np.meshgrid(*grids, indexing="ij")
        centre = self.offset + self.curvature * (x2**2 + x3**2)
        mass = 0.0
        for sign in (1.0, -1.0):
            slab = stats.norm.cdf(high[0], sign * centre, self.x1_std) - stats.norm.cdf(
                low[0], sign * centre, self.x1_std
            )
            mass += 0.5 * float(weights[0] @ slab @ weights[1])
        return mass * float(np.prod(stats.norm.cdf(high[3:]) - stats.norm.cdf(low[3:])))


@dataclass(frozen=True)
class StudentTMixture:
    """:math:`\\sum_k w_k\\, t_\\nu(\\mu_k, \\Sigma_k)`: multivariate Student-t modes, whose density
    falls as :math:`\\|\\theta\\|^{-(\\nu + d)}`; its box mass by scipy's quasi-Monte Carlo CDF
    with a fixed seed."""

    means: np.ndarray
    shapes: np.ndarray
    weights: np.ndarray
    df: float

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def _components(self) -> list[stats._multivariate.multivariate_t_frozen]:
        return [stats.multivariate_t(m, s, df=self.df) for m, s in zip(self.means, self.shapes)]

    def component_log_probs(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        return np.stack([np.log(w) + c.logpdf(x).reshape(-1) for w, c in zip(self.weights, self._components())])

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return logsumexp(self.component_log_probs(x), axis=0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        labels = rng.choice(len(self.weights), size=n, p=self.weights)
        out = np.empty((n, self.dim))
        for k, component in enumerate(self._components()):
            rows = np.flatnonzero(labels == k)
            out[rows] = component.rvs(size=rows.size, random_state=rng).reshape(rows.size, self.dim)
        return out

    def box_mass(self, low: np.ndarray, high: np.ndarray) -> float:
        return float(
            sum(
                w * c.cdf(high, lower_limit=low, maxpts=_QMC_POINTS, random_state=np.random.default_rng(0))
                for w, c in zip(self.weights, self._components())
            )
        )


def _problem(name: str, half_width: float, target: MirrorBananas | StudentTMixture) -> Problem:
    box = UniformBox(np.full(target.dim, -half_width), np.full(target.dim, half_width))
    n_modes = 2 if isinstance(target, MirrorBananas) else len(target.weights)
    return Problem(name, box, target.log_prob, TruncatedToBox(target, box), n_modes, n_density_maxima=n_modes)


def mirror_bananas_6d() -> Problem:
    """Modes at :math:`\\theta_1 = \\pm(1.5 + 0.6\\,(\\theta_2^2 + \\theta_3^2))`, width 0.3, box
    :math:`[-10, 10]^6`."""
    return _problem("mirror_bananas_6d", 10.0, MirrorBananas(dim=6, offset=1.5, curvature=0.6, x1_std=0.3))


def box_faces_10d() -> Problem:
    """Two modes in :math:`[-5, 5]^{10}`: one centred at 4.6 on four coordinates (sd 0.7), the
    other at -5 on two of them (sd 0.5, half of each marginal outside), both sd 1 elsewhere."""
    first, second = np.zeros(10), np.zeros(10)
    first[:4], second[[0, 5]] = 4.6, -5.0
    first_sd, second_sd = np.ones(10), np.ones(10)
    first_sd[:4], second_sd[[0, 5]] = 0.7, 0.5
    covariances = [np.diag(first_sd**2).tolist(), np.diag(second_sd**2).tolist()]
    return gaussian_mixture_problem("box_faces_10d", (-5.0, 5.0), [first.tolist(), second.tolist()], covariances)


def three_unequal_6d() -> Problem:
    """Weights 0.6, 0.3, 0.1 at three corners of a triangle of side about 8 in the first two
    coordinates, each with correlation 0.6 between consecutive coordinates, box :math:`[-10, 10]^6`."""
    correlation = 0.6 ** np.abs(np.subtract.outer(np.arange(6), np.arange(6)))
    means = np.zeros((3, 6))
    means[:, :2] = [[-4.0, -2.0], [4.0, -2.0], [0.0, 4.5]]
    return gaussian_mixture_problem(
        "three_unequal_6d", (-10.0, 10.0), means.tolist(), [correlation.tolist()] * 3, weights=[0.6, 0.3, 0.1]
    )


def heavy_tails_4d() -> Problem:
    """Two Student-t modes (3 degrees of freedom, unit shape) at :math:`\\pm 5` on the first
    coordinate, weights 0.5 each, box :math:`[-20, 20]^4` (which cuts off about 0.2 % of each)."""
    means = np.zeros((2, 4))
    means[:, 0] = [-5.0, 5.0]
    target = StudentTMixture(means, np.stack([np.eye(4)] * 2), np.array([0.5, 0.5]), df=3.0)
    return _problem("heavy_tails_4d", 20.0, target)


HARD_PROBLEMS: dict[str, Callable[[], Problem]] = {
    "mirror_bananas_6d": mirror_bananas_6d,
    "box_faces_10d": box_faces_10d,
    "three_unequal_6d": three_unequal_6d,
    "heavy_tails_4d": heavy_tails_4d,
}
