"""Exact distributions: the truths of the built-in problems (sampler and normalised log-density).

The built-in targets are densities restricted to the uniform prior box, so the truth is the
target truncated to the box and renormalised by its box mass (for Gaussian mixtures the
multivariate normal CDF, a seeded quasi-Monte Carlo integral to 1e-5; for products of 1D
densities their CDFs).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy.special import logsumexp

from lwflow.problems.priors import ProductOfMarginals, UniformBox
from lwflow.problems.shapes import _LOG_2PI, Banana, Rings, TwoMoons


@dataclass(frozen=True)
class GaussianMixture:
    """Finite mixture :math:`\\sum_k w_k \\mathcal N(\\mu_k, \\Sigma_k)` with full covariances."""

    means: np.ndarray
    covariances: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        means = np.atleast_2d(np.asarray(self.means, dtype=float))
        covs = np.asarray(self.covariances, dtype=float).reshape(len(means), means.shape[1], -1)
        weights = np.asarray(self.weights, dtype=float)
        if weights.shape != (len(means),) or np.any(weights <= 0):
            raise ValueError("mixture weights must be positive, one per mean")
        for k, cov in enumerate(covs):
            if not np.allclose(cov, cov.T) or np.any(np.linalg.eigvalsh(cov) <= 0):
                raise ValueError(
                    f"covariances[{k}] must be symmetric positive definite (eigenvalues "
                    f"{np.round(np.linalg.eigvalsh((cov + cov.T) / 2), 4).tolist()}); fix its entries"
                )
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "covariances", covs)
        object.__setattr__(self, "weights", weights / weights.sum())

    @cached_property
    def components(self) -> tuple[Any, ...]:
        """scipy's frozen normals (for :meth:`box_mass`), built on first use."""
        from scipy import stats

        return tuple(stats.multivariate_normal(m, c) for m, c in zip(self.means, self.covariances))

    @cached_property
    def _whitening(self) -> tuple[tuple[np.ndarray, float], ...]:
        """Per component, :math:`U` with :math:`U U^\\top = \\Sigma^{-1}` and
        :math:`\\log\\det\\Sigma`, from the eigendecomposition
        :math:`\\Sigma = V \\operatorname{diag}(s) V^\\top`: :math:`U = V \\operatorname{diag}(s^{-1/2})`."""
        from scipy.linalg import eigh

        whitening = []
        for cov in self.covariances:
            s, v = eigh(cov, lower=True, check_finite=True)
            whitening.append((np.multiply(v, np.sqrt(np.array([1 / x for x in s], dtype=float))), np.sum(np.log(s))))
        return tuple(whitening)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\log \\sum_k w_k \\mathcal N(\\theta; \\mu_k, \\Sigma_k)` with

        .. math::  \\log \\mathcal N(\\theta; \\mu, \\Sigma) = -\\tfrac12\\big(d \\log 2\\pi
                   + \\log\\det\\Sigma + \\lVert (\\theta - \\mu)\\, U \\rVert^2\\big).

        These are the operations of scipy's ``multivariate_normal.logpdf``, in its order, so
        the values are the same to the last bit (the tests assert it); written here because
        scipy.stats costs a job 1.1 s to import (``python -X importtime``, quiet 2-core machine),
        which every job that builds a mixture problem paid (its true mode count evaluates the
        density), most of them only for that."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        logs = [
            np.log(w) - 0.5 * (self.dim * _LOG_2PI + log_det + np.sum(np.square((theta - mean) @ u), axis=-1))
            for w, mean, (u, log_det) in zip(self.weights, self.means, self._whitening)
        ]
        return logsumexp(np.stack(logs), axis=0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        labels = rng.choice(len(self.weights), size=n, p=self.weights)
        out = np.empty((n, self.dim))
        for k, (mean, cov) in enumerate(zip(self.means, self.covariances)):
            idx = np.flatnonzero(labels == k)
            out[idx] = rng.multivariate_normal(mean, cov, size=idx.size)
        return out

    def box_mass(self, low: np.ndarray, high: np.ndarray) -> float:
        """Probability of the box ``[low, high]`` by scipy's multivariate normal CDF, a
        quasi-Monte Carlo integral (tolerance 1e-5) with a fixed seed, so the same box
        always gets the same mass."""
        return float(
            sum(
                w * comp.cdf(high, lower_limit=low, rng=np.random.default_rng(0))
                for w, comp in zip(self.weights, self.components)
            )
        )


@dataclass(frozen=True)
class MixtureOf1D:
    """A 1D mixture of scipy laws with weights; has ``logpdf``, ``cdf`` and ``rvs`` like them."""

    components: tuple[Any, ...]
    weights: np.ndarray

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        w = np.asarray(self.weights) / np.sum(self.weights)
        return logsumexp(np.stack([np.log(wk) + c.logpdf(x) for wk, c in zip(w, self.components)]), axis=0)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        w = np.asarray(self.weights) / np.sum(self.weights)
        return sum(wk * c.cdf(x) for wk, c in zip(w, self.components))

    def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
        w = np.asarray(self.weights) / np.sum(self.weights)
        labels = random_state.choice(len(w), size=size, p=w)
        out = np.empty(size)
        for k, comp in enumerate(self.components):
            idx = np.flatnonzero(labels == k)
            out[idx] = comp.rvs(size=idx.size, random_state=random_state)
        return out


@dataclass(frozen=True)
class TruncatedToBox:
    """A target restricted to the prior box and renormalised: the exact posterior.

    .. math::  p(\\theta) = t(\\theta)\\,\\mathbb 1[\\theta \\in B] / t(B)

    Sampling is by rejection from the target; ``t(B)`` comes from ``target.box_mass``.
    """

    target: GaussianMixture | ProductOfMarginals | Banana | TwoMoons | Rings
    box: UniformBox

    @cached_property
    def log_mass(self) -> float:
        """:math:`\\log t(B)`, computed on first use: a mixture's box mass is a quasi-Monte Carlo
        integral that needs scipy.stats, which jobs that only draw from the prior or read
        stored weights skip (1.1 s of import).  The workflow asks for it when it reads its
        config, so a box that misses the target stops the run before any job."""
        mass = self.target.box_mass(self.box.low, self.box.high)
        if not mass > 1e-3:
            raise ValueError(f"the target puts only {mass:.2e} of its mass inside the prior box; widen the box")
        return float(np.log(mass))

    @property
    def dim(self) -> int:
        return self.target.dim

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        inside = self.box.contains(theta)
        return np.where(inside, self.target.log_prob(theta) - self.log_mass, -np.inf)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        chunks, have = [], 0
        while have < n:
            draw = self.target.sample(int(1.1 * (n - have)) + 16, rng)
            draw = draw[self.box.contains(draw)]
            chunks.append(draw)
            have += len(draw)
        return np.concatenate(chunks)[:n]
