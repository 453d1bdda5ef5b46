"""A problem: a prior, a vectorised log-likelihood and, for benchmarks, the exact posterior.

Its posterior is

.. math::  p(\\theta \\mid D) = \\pi(\\theta) L(\\theta) / Z .

``truth`` (an exact sampler and the *normalised* log-density of that posterior) is used only
by the metrics; the built-in problems (:mod:`lwflow.problems.builtin`) carry one, and a user
problem may.

Example::

    >>> from lwflow.problems.priors import UniformBox
    >>> prior = UniformBox(low=[-12, -12], high=[12, 12])
    >>> problem = Problem("mine", prior, log_likelihood=lambda t: -0.5 * (t**2).sum(1))
    >>> problem.dim, problem.names
    (2, ('theta_1', 'theta_2'))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from lwflow.problems.likelihoods import PointwiseLikelihood
from lwflow.problems.priors import Prior, check_prior
from lwflow.settings import check_section


class Target(Protocol):
    """A distribution with an exact sampler and a normalised log-density."""

    @property
    def dim(self) -> int: ...

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def log_prob(self, theta: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Problem:
    """A prior, a vectorised log-likelihood and optionally the exact posterior.

    ``log_likelihood`` maps an ``(n, dim)`` array to ``(n,)`` log-likelihoods; ``-inf``
    is a valid zero likelihood.  ``vectorized=False``: it maps one point ``(dim,)`` to a
    float instead, and is called row by row (:class:`lwflow.problems.likelihoods.PointwiseLikelihood`;
    ``fit(..., pool=...)`` spreads the rows over processes).  ``parameter_names`` label the coordinates in summaries,
    plots and exports (default ``theta_1, theta_2, ...``).  ``truth`` (exact sampler +
    normalised log-density of the posterior) makes every metric available; a user problem
    may bring one too.  ``n_density_maxima`` (the local maxima of the posterior density,
    None where they are not a finite set, e.g. a ring) and ``n_modes`` (those maxima
    separated by a valley deeper than :data:`lwflow.density_modes.VALLEY_RATIO`: the base modes the
    flow should get) are known only for benchmarks.

    Arguments:
        name: the problem's name in results and messages (letters, digits, ``_``, ``-``).
        prior: a :class:`~lwflow.problems.priors.Prior` (``UniformBox``, ``Gaussian``, ...).
        log_likelihood: ``(n, dim)`` -> ``(n,)``, or one point -> a float with ``vectorized=False``.
        truth: the exact posterior, for benchmarks (optional).
        n_modes: the posterior's separated modes, for benchmarks (optional).
        n_density_maxima: the posterior density's local maxima, for benchmarks (optional).
        parameter_names: one label per coordinate (optional).
        vectorized: whether ``log_likelihood`` takes a batch of rows.

    Example::

        >>> from lwflow.problems.priors import Gaussian
        >>> problem = Problem("mine", Gaussian([0, 0], 1.0), lambda t: -0.5 * ((t - 1) ** 2).sum(1))
        >>> problem.log_likelihood(np.ones((1, 2)))
        array([-0.])
    """

    name: str
    prior: Prior
    log_likelihood: Callable[[np.ndarray], np.ndarray]
    truth: Target | None = None
    n_modes: int | None = None
    n_density_maxima: int | None = None
    parameter_names: tuple[str, ...] | None = None
    vectorized: bool = True

    def __post_init__(self) -> None:
        if not self.vectorized and not isinstance(self.log_likelihood, PointwiseLikelihood):
            # vectorized=False: the function takes one point and returns a number
            of_point = cast(Callable[[np.ndarray], float], self.log_likelihood)
            object.__setattr__(self, "log_likelihood", PointwiseLikelihood(of_point))
        check_section("problem_name", self.name, label="problem name")
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
        """Refuse a prior with the wrong shapes once, before any work, saying what to do (the
        likelihood is checked where it is first evaluated: it may be expensive)."""
        check_prior(self.prior, f"problem {self.name!r}: prior")
