"""Inference problems: a prior, a vectorised log-likelihood and, for benchmarks, the truth.

A :class:`Problem` is what a user hands to lwflow.  Its posterior is

.. math::  p(\\theta \\mid D) = \\pi(\\theta) L(\\theta) / Z .

Benchmarks also carry ``truth``: an exact sampler and the *normalised* log-density of
that posterior, used only by the metrics.  The built-in targets are densities restricted
to the uniform prior box, so the truth is the target truncated to the box and
renormalised by its box mass (for Gaussian mixtures the multivariate normal CDF, a
seeded quasi-Monte Carlo integral to 1e-5; for products of 1D densities their CDFs).

Example::

    prior = UniformBox(low=[-12, -12], high=[12, 12])
    problem = Problem("mine", prior, log_likelihood=lambda t: -0.5 * (t**2).sum(1))
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from lwflow.modes import density_maxima, separated_mode_count
from lwflow.priors import Prior, ProductOfMarginals, UniformBox, check_prior
from lwflow.shapes import Banana, Rings, TwoMoons


class Target(Protocol):
    """A distribution with an exact sampler and a normalised log-density."""

    dim: int

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def log_prob(self, theta: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class GaussianMixture:
    """Finite mixture :math:`\\sum_k w_k \\mathcal N(\\mu_k, \\Sigma_k)` with full covariances."""

    means: np.ndarray
    covariances: np.ndarray
    weights: np.ndarray
    components: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        means = np.atleast_2d(np.asarray(self.means, dtype=float))
        covs = np.asarray(self.covariances, dtype=float).reshape(len(means), means.shape[1], -1)
        weights = np.asarray(self.weights, dtype=float)
        if weights.shape != (len(means),) or np.any(weights <= 0):
            raise ValueError("mixture weights must be positive, one per mean")
        for k, cov in enumerate(covs):
            if not np.allclose(cov, cov.T) or np.any(np.linalg.eigvalsh(cov) <= 0):
                raise ValueError(f"covariance {k} must be symmetric positive definite")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "covariances", covs)
        object.__setattr__(self, "weights", weights / weights.sum())
        components = tuple(stats.multivariate_normal(m, c) for m, c in zip(means, covs))
        object.__setattr__(self, "components", components)  # built once: log_prob is called point by point too

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        logs = [np.log(w) + comp.logpdf(theta).reshape(-1) for w, comp in zip(self.weights, self.components)]
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
    log_mass: float = field(init=False)

    def __post_init__(self) -> None:
        mass = self.target.box_mass(self.box.low, self.box.high)
        if not mass > 1e-3:
            raise ValueError(f"the target puts only {mass:.2e} of its mass inside the prior box; widen the box")
        object.__setattr__(self, "log_mass", float(np.log(mass)))

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


@dataclass(frozen=True)
class Problem:
    """A prior, a vectorised log-likelihood and optionally the exact posterior.

    ``log_likelihood`` maps an ``(n, dim)`` array to ``(n,)`` log-likelihoods; ``-inf``
    is a valid zero likelihood.  ``parameter_names`` label the coordinates in summaries,
    plots and exports (default ``theta_1, theta_2, ...``).  ``truth`` (exact sampler +
    normalised log-density of the posterior) makes every metric available; a user problem
    may bring one too.  ``n_density_maxima`` (the local maxima of the posterior density,
    None where they are not a finite set, e.g. a ring) and ``n_modes`` (those maxima
    separated by a valley deeper than :data:`lwflow.modes.VALLEY_RATIO`: the base modes the
    flow should get) are known only for benchmarks.

    Example::

        problem = Problem("mine", Gaussian([0, 0], 1.0), lambda t: -0.5 * ((t - 1) ** 2).sum(1))
    """

    name: str
    prior: Prior
    log_likelihood: Callable[[np.ndarray], np.ndarray]
    truth: Target | None = None
    n_modes: int | None = None
    n_density_maxima: int | None = None
    parameter_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.parameter_names is not None:
            names = tuple(str(n) for n in self.parameter_names)
            if len(names) != self.dim or len(set(names)) != len(names):
                raise ValueError(
                    f"problem {self.name!r}: parameter_names {list(names)} must be {self.dim} distinct names"
                )
            object.__setattr__(self, "parameter_names", names)

    @property
    def dim(self) -> int:
        return self.prior.dim

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names, ``theta_1..theta_d`` where the problem gives none."""
        return self.parameter_names or tuple(f"theta_{j + 1}" for j in range(self.dim))

    def check(self) -> None:
        """Refuse a prior with the wrong shapes once, before any work, saying what to return
        (the likelihood is checked where it is first evaluated: it may be expensive)."""
        check_prior(self.prior, f"problem {self.name!r}: prior")


def gaussian_mixture_problem(
    name: str,
    bounds: tuple[float, float],
    means: list[list[float]],
    covariances: list[list[list[float]]],
    weights: list[float] | None = None,
) -> Problem:
    """Uniform prior on ``[bounds]^d`` and a Gaussian-mixture likelihood (paper A, sec. 3)."""
    means_arr = np.asarray(means, dtype=float)
    dim = means_arr.shape[1]
    box = UniformBox(np.full(dim, bounds[0]), np.full(dim, bounds[1]))
    mixture = GaussianMixture(means_arr, np.asarray(covariances), np.asarray(weights or [1.0] * len(means_arr)))
    maxima = density_maxima(mixture.weights, mixture.means, mixture.covariances)
    return Problem(
        name,
        box,
        mixture.log_prob,
        TruncatedToBox(mixture, box),
        n_modes=separated_mode_count(maxima, mixture.log_prob),
        n_density_maxima=len(maxima),
    )


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
    """Paper B's banana (one curved mode): :class:`lwflow.shapes.Banana`."""
    return _shape_problem(name, low, high, Banana(x1_std, curvature, x2_std), n_modes=1)


def two_moons_problem(name: str, low: list[float], high: list[float], noise: float) -> Problem:
    """Paper B's two moons: :class:`lwflow.shapes.TwoMoons` (no clean mode count)."""
    return _shape_problem(name, low, high, TwoMoons(noise), n_modes=None)


def rings_problem(name: str, low: list[float], high: list[float], radii: list[float], noise: float) -> Problem:
    """Paper B's concentric rings: :class:`lwflow.shapes.Rings` (a continuum of maxima, no mode count)."""
    return _shape_problem(name, low, high, Rings(tuple(radii), noise), n_modes=None)


BUILTIN_KINDS: dict[str, Callable[..., Problem]] = {
    "gaussian_mixture": gaussian_mixture_problem,
    "trimodal_product": trimodal_product_problem,
    "banana": banana_problem,
    "two_moons": two_moons_problem,
    "rings": rings_problem,
}


def _split_reference(reference: str) -> tuple[str, str]:
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"user problem {reference!r} must be written 'module:attribute', e.g. 'my_model:problem'")
    return module_name, attribute


def user_module_file(reference: str) -> Path:
    """The source file of the module named by ``module:attribute`` (found, not imported): an
    input of the workflow's stages, so that editing it reruns them."""
    module_name, _ = _split_reference(reference)
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as error:
        raise ValueError(f"user problem {reference!r}: cannot find module {module_name!r} ({error})") from error
    if spec is None or spec.origin is None or not Path(spec.origin).is_file():
        raise ValueError(
            f"user problem {reference!r}: cannot find module {module_name!r}; put it on PYTHONPATH or install it"
        )
    origin = Path(spec.origin).resolve()
    return origin.relative_to(Path.cwd()) if origin.is_relative_to(Path.cwd()) else origin


def load_user_problem(
    reference: str, args: dict[str, Any] | None = None, data: dict[str, str] | None = None
) -> Problem:
    """Import ``module:attribute``: a :class:`Problem`, or a factory returning one, called as
    ``factory(**args, **data)`` (``data`` maps argument names to file paths).  The problem's
    shapes are checked (:meth:`Problem.check`)."""
    module_name, attribute = _split_reference(reference)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"user problem {reference!r}: cannot import module {module_name!r} ({error}); "
            "put it on PYTHONPATH or install it"
        ) from error
    if not hasattr(module, attribute):
        raise ValueError(f"user problem {reference!r}: module {module_name!r} has no attribute {attribute!r}")
    obj = getattr(module, attribute)
    keywords = {**(args or {}), **(data or {})}
    if isinstance(obj, Problem):
        if keywords:
            raise ValueError(
                f"user problem {reference!r} is a Problem, not a factory, so it cannot take args or data "
                f"{sorted(keywords)}; make {attribute!r} a function that returns the Problem"
            )
        problem = obj
    elif callable(obj):
        try:
            problem = obj(**keywords)
        except TypeError as error:
            raise ValueError(
                f"user problem {reference!r}: calling it with {sorted(keywords)} failed: {error}"
            ) from error
    else:
        problem = obj
    if not isinstance(problem, Problem):
        raise ValueError(f"user problem {reference!r} must be an lwflow.Problem, got {type(problem).__name__}")
    problem.check()
    return problem


def problem_from_spec(name: str, spec: dict[str, Any]) -> Problem:
    """Build a problem from its config entry: ``{kind: ..., **parameters}`` or
    ``{kind: user, target: mod:attr, args: {...}, data: {...}}``."""
    spec = dict(spec)
    kind = spec.pop("kind")
    for key in ("n_prior_samples", "n_target_samples", "likelihood_chunks"):
        spec.pop(key, None)
    if kind == "user":
        return load_user_problem(spec["target"], spec.get("args"), spec.get("data"))
    if kind not in BUILTIN_KINDS:
        raise ValueError(f"problem {name!r}: unknown kind {kind!r}; choose one of {sorted(BUILTIN_KINDS)} or 'user'")
    return BUILTIN_KINDS[kind](name=name, **spec)


def problem_files(spec: dict[str, Any]) -> list[str]:
    """The files a problem is made of beyond lwflow: a user problem's module source and its
    data files (empty for built-ins)."""
    if spec["kind"] != "user":
        return []
    data = [str(path) for path in spec.get("data", {}).values()]
    missing = [path for path in data if not Path(path).is_file()]
    if missing:
        raise ValueError(f"data files {missing} do not exist (paths are relative to the working directory)")
    return [str(user_module_file(spec["target"])), *data]
