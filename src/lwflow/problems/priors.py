"""Priors: what lwflow needs of one, and the common ones.

A prior :math:`\\pi(\\theta)` on :math:`\\mathbb R^d` is any object with ``dim``,
``sample(n, rng)`` (an ``(n, dim)`` array), ``log_prob(theta)`` (``(n,)``, ``-inf`` outside
the support) and ``support()``: the smallest box ``(low, high)`` that holds its support,
with ``-inf``/``inf`` for unbounded sides.  A posterior is never given mass outside that
box (:mod:`lwflow.models.support`).

* :class:`UniformBox`: uniform on ``[low, high]``.
* :class:`Gaussian`: :math:`\\mathcal N(\\mu, \\Sigma)`, diagonal or full covariance.
* :class:`ProductOfMarginals`: independent coordinates, each a frozen ``scipy.stats`` law,
  :math:`\\pi(\\theta) = \\prod_j \\pi_j(\\theta_j)` (like pocoMC's ``Prior``).

Example::

    >>> from scipy import stats
    >>> prior = ProductOfMarginals((stats.norm(0, 1), stats.uniform(0, 10)))
    >>> theta = prior.sample(1000, np.random.default_rng(0))
    >>> prior.dim, theta.shape, prior.support()
    (2, (1000, 2), (array([-inf,   0.]), array([inf, 10.])))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Prior(Protocol):
    """What lwflow needs from a prior: its dimension, a sampler, a log-density, a bounding box."""

    @property
    def dim(self) -> int: ...

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def log_prob(self, theta: np.ndarray) -> np.ndarray: ...

    def support(self) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class UniformBox:
    """Uniform prior on the box ``[low, high]`` (one bound per dimension).

    Arguments:
        low: the lower bound of each coordinate.
        high: the upper bound of each coordinate, above ``low``.
    """

    low: np.ndarray
    high: np.ndarray

    def __post_init__(self) -> None:
        low = np.atleast_1d(np.asarray(self.low, dtype=float))
        high = np.atleast_1d(np.asarray(self.high, dtype=float))
        if low.shape != high.shape or low.ndim != 1 or np.any(~(high > low)) or not np.isfinite([low, high]).all():
            raise ValueError(f"prior box needs finite low < high in every dimension, got {low} and {high}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def dim(self) -> int:
        return self.low.size

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=(n, self.dim))

    def contains(self, theta: np.ndarray) -> np.ndarray:
        return np.all((theta >= self.low) & (theta <= self.high), axis=1)

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        log_volume = float(np.sum(np.log(self.high - self.low)))
        return np.where(self.contains(np.atleast_2d(theta)), -log_volume, -np.inf)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        return self.low, self.high


@dataclass(frozen=True)
class Gaussian:
    """Gaussian prior :math:`\\mathcal N(\\mu, \\Sigma)`.

    ``covariance`` is a full ``(d, d)`` matrix, a vector of ``d`` variances (diagonal), or
    one variance for every coordinate.  With :math:`\\Sigma = LL^T`,

    .. math::  \\log \\pi(\\theta) = -\\tfrac12 \\|L^{-1}(\\theta - \\mu)\\|^2
               - \\textstyle\\sum_j \\log L_{jj} - \\tfrac d2 \\log 2\\pi .

    Arguments:
        mean: :math:`\\mu`, one value per coordinate.
        covariance: :math:`\\Sigma`: a matrix, a vector of variances or one variance.
    """

    mean: np.ndarray
    covariance: np.ndarray | float = 1.0
    cholesky: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mean = np.atleast_1d(np.asarray(self.mean, dtype=float))
        if mean.ndim != 1:
            raise ValueError(f"Gaussian prior: mean must be a vector, got shape {mean.shape}")
        if not np.isfinite(mean).all():
            raise ValueError(f"Gaussian prior: mean {mean.tolist()} is not finite; give finite numbers")
        cov = np.asarray(self.covariance, dtype=float)
        if not np.isfinite(cov).all():
            raise ValueError(
                f"Gaussian prior: covariance {cov.tolist()} is not finite (NaN or inf); give finite variances "
                "(for a flat direction use a UniformBox or a wide but finite variance)"
            )
        if cov.ndim < 2:
            cov = np.diag(np.broadcast_to(cov, mean.shape).copy())
        if cov.shape != (mean.size, mean.size):
            raise ValueError(
                f"Gaussian prior: covariance of shape {cov.shape} does not fit a mean of {mean.size} coordinates; "
                f"give a ({mean.size}, {mean.size}) matrix, {mean.size} variances or one variance"
            )
        if not np.allclose(cov, cov.T):
            raise ValueError("Gaussian prior: the covariance must be symmetric")
        try:
            cholesky = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError("Gaussian prior: the covariance must be positive definite") from None
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "covariance", cov)
        object.__setattr__(self, "cholesky", cholesky)

    @property
    def dim(self) -> int:
        return self.mean.size

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.mean + rng.standard_normal((n, self.dim)) @ self.cholesky.T

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        from scipy.linalg import solve_triangular

        white = solve_triangular(self.cholesky, (np.atleast_2d(theta) - self.mean).T, lower=True)
        log_det = float(np.log(np.diag(self.cholesky)).sum())
        return -0.5 * (white**2).sum(0) - log_det - 0.5 * self.dim * np.log(2 * np.pi)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        return np.full(self.dim, -np.inf), np.full(self.dim, np.inf)


@dataclass(frozen=True)
class ProductOfMarginals:
    """Independent coordinates, :math:`p(\\theta) = \\prod_j p_j(\\theta_j)`, each a frozen
    scipy 1D law (anything with ``logpdf``, ``cdf``, ``rvs``; ``support`` where bounded).

    Arguments:
        marginals: one law per coordinate, e.g. ``(stats.norm(0, 1), stats.uniform(0, 10))``.
    """

    marginals: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "marginals", tuple(self.marginals))
        if not self.marginals:
            raise ValueError("ProductOfMarginals needs at least one marginal")
        for index, law in enumerate(self.marginals):
            missing = [name for name in ("rvs", "logpdf") if not callable(getattr(law, name, None))]
            if missing:
                raise TypeError(
                    f"ProductOfMarginals: marginal {index} is {law!r}, not a law like a frozen scipy.stats one "
                    f"(it lacks {missing}); give e.g. scipy.stats.norm(0, 1) or scipy.stats.uniform(-5, 10)"
                )

    @property
    def dim(self) -> int:
        return len(self.marginals)

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        return sum(m.logpdf(theta[:, j]) for j, m in enumerate(self.marginals))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.column_stack([m.rvs(size=n, random_state=rng) for m in self.marginals])

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        bounds = [m.support() if hasattr(m, "support") else (-np.inf, np.inf) for m in self.marginals]
        return np.array([b[0] for b in bounds], dtype=float), np.array([b[1] for b in bounds], dtype=float)

    def box_mass(self, low: np.ndarray, high: np.ndarray) -> float:
        """Exact probability of the box: product of 1D CDF differences."""
        return float(np.prod([m.cdf(h) - m.cdf(lo) for m, lo, h in zip(self.marginals, low, high)]))


def check_prior(prior: Any, name: str = "prior") -> None:
    """Refuse an object that does not meet the :class:`Prior` protocol, saying what to return.

    Draws 4 points and checks the shapes of ``sample``, ``log_prob`` and ``support``."""
    missing = [a for a in ("dim", "sample", "log_prob", "support") if not hasattr(prior, a)]
    if missing:
        raise TypeError(f"{name}: {type(prior).__name__} lacks {missing}; a prior needs dim, sample, log_prob, support")
    dim = prior.dim
    if not isinstance(dim, int | np.integer) or dim < 1:
        raise ValueError(f"{name}: dim must be a positive integer, got {dim!r}")
    theta = np.asarray(prior.sample(4, np.random.default_rng(0)))
    if theta.shape != (4, dim):
        raise ValueError(
            f"{name}: sample(4, rng) returned shape {theta.shape}; return an array of shape (n, dim) = (4, {dim})"
        )
    log_p = np.asarray(prior.log_prob(theta))
    if log_p.shape != (4,):
        raise ValueError(
            f"{name}: log_prob of 4 draws returned shape {log_p.shape}; return one value per row, shape (4,)"
        )
    if not np.isfinite(log_p).all():
        raise ValueError(f"{name}: log_prob is not finite at the prior's own draws {theta.tolist()}")
    low, high = (np.asarray(b, dtype=float) for b in prior.support())
    if low.shape != (dim,) or high.shape != (dim,) or np.any(~(high > low)):
        raise ValueError(f"{name}: support() must return (low, high), each of shape ({dim},), with low < high")
    check_prior_law(prior, name)


LAW_CHECK_DRAWS = 4096
LAW_CHECK_MAX_DIM = 10


def check_prior_law(prior: Prior, name: str = "prior", n: int = LAW_CHECK_DRAWS) -> None:
    r"""Refuse a prior whose ``log_prob`` is not finite at its own draws, or is not the law its
    ``sample`` draws from (a user's prior whose two methods disagree makes prior and adaptive
    fits disagree, silently).

    The law test compares, on the box :math:`B` between the draws' per-coordinate quartiles,
    the share of draws inside, :math:`\hat P_s(B)`, with the mass ``log_prob`` gives it,
    :math:`\hat P_\pi(B) = |B| \, \overline{\pi(u)}` over :math:`u \sim \mathcal U(B)`; it
    refuses when they differ by more than 0.05 and by more than 5 standard errors.  Both are
    consistent for any proper law, whatever its tails; in more than ``LAW_CHECK_MAX_DIM``
    dimensions the uniform estimate is too noisy to say anything, and the test is skipped."""
    rng = np.random.default_rng(0)
    theta = np.asarray(prior.sample(n, rng), dtype=float)
    log_p = np.asarray(prior.log_prob(theta), dtype=float)
    bad = ~np.isfinite(log_p)
    if bad.any():
        raise ValueError(
            f"{name}: log_prob is {log_p[bad][0]} at {bad.sum()} of {n} of the prior's own draws (e.g. "
            f"{theta[bad][0].tolist()}); it must be finite wherever sample draws"
        )
    if prior.dim > LAW_CHECK_MAX_DIM:
        return
    low, high = np.quantile(theta, [0.25, 0.75], axis=0)
    if np.any(~(high > low)):
        return  # a point mass in some coordinate: no box to compare on
    share = float(np.all((theta >= low) & (theta <= high), axis=1).mean())
    u = rng.uniform(low, high, size=(2 * n, prior.dim))
    density = np.exp(np.asarray(prior.log_prob(u), dtype=float)) * float(np.prod(high - low))
    mass, mass_se = float(density.mean()), float(density.std() / np.sqrt(len(u)))
    se = np.hypot(np.sqrt(share * (1 - share) / n), mass_se)
    if abs(mass - share) > max(0.05, 5 * se):
        raise ValueError(
            f"{name}: log_prob and sample describe different laws: {share:.3f} of sample's draws fall in the box "
            f"{low.round(3).tolist()}-{high.round(3).tolist()}, but log_prob gives that box a mass of {mass:.3f} "
            f"(+- {mass_se:.3f}); make log_prob the normalised log-density of the law sample draws from"
        )
