"""How far to trust a fitted posterior: its density checked against the likelihood.

A scientist never holds the exact posterior, so every fit is checked the way PSIS checks a
variational approximation (Yao, Vehtari, Simpson & Gelman 2018, "Yes, but did it work?"):
``n_draws`` fresh draws from the defensive mixture of the fitted density :math:`q` and the prior,

.. math::  g = (1 - \\epsilon)\\, q + \\epsilon\\, \\pi ,
           \\qquad \\log w_i = \\log \\pi(\\theta_i) + \\log L(\\theta_i) - \\log g(\\theta_i) ,

are weighted against prior x likelihood.  Their likelihood calls are counted in the fit's.
From those weights:

* the **Pareto** :math:`\\hat k` (PSIS, arviz-stats): the tail of the weights; above 0.7 their
  variance is effectively infinite (Yao et al. 2018, Vehtari et al. 2024).  From a few thousand
  draws it is noisy where the density is nearly exact (measured: -0.7 to 1.2 with every weight
  within a factor of two of the others), so it counts only together with a low ESS.
* the **ESS fraction** :math:`\\mathrm{ESS}/n` (Kish): how much of each draw is wasted.  For
  :math:`q = p` it is about :math:`1 - \\epsilon` (the prior draws land where the posterior
  is negligible), so 0.9 is its ceiling at the default share.
* the **shift** (:func:`correction_shift`): how far the weights move the density's own draws,
  a sliced :math:`W_1(q, p)` in posterior sds measured on the same points, so without a second
  sample's noise.  It follows the benchmarks' accuracy test (sliced W1 against the
  truth-vs-truth floor, mode masses) more closely than any other number here.
* :math:`\\log \\hat Z \\pm` **se**: the flow as an importance proposal, an estimate independent
  of the draws the flow was trained on.  It is compared with the fit's own evidence (prior draws,
  or the adaptive rounds' draws): two independent estimates that disagree by far more than their
  errors mean that one of the two proposals missed posterior mass.

**Where it misleads.**  A mode that the flow misses entirely is invisible to the flow's own
draws: none lands there, so no weight grows.  Two guards: (1) the defensive prior share: the
:math:`\\epsilon n` prior draws hit a missed mode once its prior mass is about
:math:`1/(\\epsilon n)` (0.5 % at the defaults) or more, and each such draw then carries a
weight of :math:`p/(\\epsilon\\pi)`, far above the rest, so :math:`\\hat k` rises; (2) the
evidence comparison, since the fit's own draws (prior draws, or the rounds' draws with their
defensive share) do cover a mode the prior reaches.  A mode with a prior mass far below
:math:`1/(\\epsilon n)` that the training draws missed as well is invisible to both: no check
built on likelihood calls finds what none of them reached (nested samplers share this limit).

**One verdict** (thresholds measured over every benchmark problem and seed,
docs/results/verdict.md):

* ``trusted``: shift :math:`\\le` :data:`TRUSTED_SHIFT` and ESS fraction :math:`\\ge`
  :data:`TRUSTED_ESS_FRACTION` x its ceiling: use the density and its draws;
* ``not trusted``: adaptive rounds stopped before :math:`\\beta = 1`; :math:`\\hat k \\ge`
  :data:`RELIABLE_PARETO_K` with an ESS fraction below that bound; or the two evidence estimates
  apart by more than :data:`EVIDENCE_SIGMAS` standard errors and :data:`EVIDENCE_TOLERANCE`; the
  advice names the setting to raise;
* ``reweight``: everything between: use importance-corrected draws
  (``posterior.sample(n, corrected=True)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lwflow.fitting.defensive import defensive_draws, proposal_log_prob
from lwflow.fitting.weights import check_log_likelihood, ess_of_log_weights, log_mean_exp, pareto_k, weighted_resample
from lwflow.settings import CheckConfig

if TYPE_CHECKING:
    from lwflow.models.density import DensityModel
    from lwflow.problems.problem import Problem

__all__ = [
    "ImportanceSample",
    "PosteriorCheck",
    "VERDICTS",
    "advice_for",
    "check_posterior",
    "importance_sample",
    "judge",
]

VERDICTS = ("trusted", "reweight", "not trusted")
TRUSTED_SHIFT = 0.01
TRUSTED_ESS_FRACTION = 0.8
RELIABLE_PARETO_K = 0.7
EVIDENCE_SIGMAS = 4.0
EVIDENCE_TOLERANCE = 0.05


@dataclass(frozen=True)
class ImportanceSample:
    """Draws ``theta`` of the defensive mixture (prior share ``defensive_share``) with their
    log-weights against prior x likelihood."""

    theta: np.ndarray
    log_weight: np.ndarray
    defensive_share: float
    n_flow: int

    @property
    def ess(self) -> float:
        return ess_of_log_weights(self.log_weight)

    @property
    def pareto_k(self) -> float:
        return pareto_k(self.log_weight)

    @property
    def shift(self) -> float:
        """How far importance weighting moves the density's own draws (the first ``n_flow``):
        :func:`correction_shift`, an estimate of the sliced :math:`W_1(q, p)` in posterior sds."""
        return correction_shift(self.theta[: self.n_flow], self.log_weight[: self.n_flow])

    def numbers(self) -> dict[str, float]:
        """What :func:`judge` reads."""
        log_z, log_z_se = self.log_evidence()
        n = len(self.log_weight)
        return {
            "pareto_k": self.pareto_k, "ess_fraction": self.ess / n, "shift": self.shift, "log_evidence": log_z,
            "log_evidence_se": log_z_se, "n_draws": n, "defensive_share": self.defensive_share,
        }  # fmt: skip

    def log_evidence(self) -> tuple[float, float]:
        """:math:`\\log \\hat Z` and its standard error :math:`\\sqrt{1/\\mathrm{ESS} - 1/n}`."""
        if not np.isfinite(self.log_weight).any():
            return -math.inf, math.inf
        return log_mean_exp(self.log_weight)

    def resample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` draws resampled with probability proportional to the weights (sampling
        importance resampling): importance-corrected, equally weighted draws."""
        return weighted_resample(self.theta, self.log_weight, n, seed)


def importance_sample(
    density: DensityModel, problem: Problem, n: int, defensive_share: float, rng: np.random.Generator
) -> ImportanceSample:
    """``n`` draws of :math:`(1-\\epsilon) q + \\epsilon \\pi` weighted against :math:`\\pi L`
    (``n`` likelihood calls)."""
    theta = defensive_draws(problem.prior, density, n, defensive_share, rng)
    log_prior = problem.prior.log_prob(theta)
    log_likelihood = check_log_likelihood(problem.log_likelihood(np.array(theta, copy=True)), n_samples=n)
    log_target = log_prior + log_likelihood  # -inf where the likelihood is zero
    log_weight = log_target - proposal_log_prob(density, log_prior, theta, defensive_share)
    return ImportanceSample(theta, log_weight, defensive_share, n - int(round(defensive_share * n)))


def correction_shift(theta: np.ndarray, log_weight: np.ndarray, n_projections: int = 50) -> float:
    """:math:`\\frac1P \\sum_k W_1(\\hat q_k, \\hat p_k) / \\mathrm{sd}_{\\hat p}(\\theta v_k)` over fixed random
    directions :math:`v_k`: draws of :math:`q` equally weighted (:math:`\\hat q`) against the same draws
    importance-weighted (:math:`\\hat p`), projected on :math:`v_k`.  On the same points the two differ
    only by the weights, so no sampling noise of a second sample enters: 0 for :math:`q = p`, and
    about the sliced :math:`W_1(q, p)` in units of the posterior's sd otherwise (a mode whose mass
    the flow gets wrong by :math:`\\delta` moves it by about :math:`\\delta` times the modes' distance)."""
    weights = np.zeros(len(log_weight))
    finite = np.isfinite(log_weight)
    if finite.sum() < 2:
        return math.inf
    weights[finite] = np.exp(log_weight[finite] - log_weight[finite].max())
    weights /= weights.sum()
    directions = np.random.default_rng(0).standard_normal((n_projections, theta.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    projected = theta @ directions.T
    order = np.argsort(projected, axis=0)
    sorted_x = np.take_along_axis(projected, order, axis=0)
    gap = np.cumsum(weights[order], axis=0) - np.arange(1, len(theta) + 1)[:, None] / len(theta)
    w1 = (np.abs(gap[:-1]) * np.diff(sorted_x, axis=0)).sum(0)
    mean = weights @ projected
    sd = np.sqrt(np.maximum(weights @ (projected - mean) ** 2, 1e-300))
    return float(np.mean(w1 / sd))


@dataclass(frozen=True)
class PosteriorCheck:
    """The check's numbers and the verdict drawn from them.

    ``stop`` and ``beta`` are the adaptive rounds' stop reason and the last :math:`\\beta` they
    reached (None for other fits); ``fit_log_evidence`` the fit's own estimate it was compared
    with; ``reasons`` say why the verdict is not ``trusted`` and ``advice`` what to change."""

    verdict: str
    pareto_k: float
    ess_fraction: float
    shift: float
    log_evidence: float
    log_evidence_se: float
    n_draws: int
    defensive_share: float
    fit_log_evidence: float | None = None
    fit_log_evidence_se: float | None = None
    stop: str | None = None
    beta: float | None = None
    reasons: tuple[str, ...] = ()
    advice: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"reasons": list(self.reasons)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> PosteriorCheck:
        return cls(**{**record, "reasons": tuple(record.get("reasons", ()))})

    @property
    def warning(self) -> str | None:
        """The warning this check raises (``not trusted``, or rounds stopped before :math:`\\beta = 1`), or None."""
        if self.verdict != "not trusted":
            return None
        return f"posterior not trusted: {'; '.join(self.reasons)}. Fix: {self.advice}"

    def line(self) -> str:
        """One line: the verdict with its numbers."""
        text = (
            f"verdict: {self.verdict} (Pareto k {self.pareto_k:.2f}, ESS fraction {self.ess_fraction:.2f} "
            f"of {self.n_draws} check draws, shift {self.shift:.3f} sd, "
            f"log Z {self.log_evidence:.3f} +- {self.log_evidence_se:.3f}"
        )
        if self.stop is not None:
            text += f"; rounds stopped: {self.stop} at beta {self.beta:.3g}"
        return text + ")"


def judge(
    numbers: Mapping[str, float],
    fit_evidence: tuple[float, float] | None = None,
    stop: str | None = None,
    beta: float | None = None,
    advice: str = "",
) -> PosteriorCheck:
    """The verdict of the module docstring from a check's ``numbers`` (``pareto_k``,
    ``ess_fraction``, ``shift``, ``log_evidence``, ``log_evidence_se``, ``n_draws``,
    ``defensive_share``: :meth:`ImportanceSample.numbers`), the fit's own evidence ``(log Z, se)``
    where it has one, and an adaptive fit's ``stop`` reason and ``beta``; ``advice`` is what to
    change when the verdict is not ``trusted``."""
    k_hat, ess_fraction, shift = numbers["pareto_k"], numbers["ess_fraction"], numbers["shift"]
    log_z, log_z_se = numbers["log_evidence"], numbers["log_evidence_se"]
    ceiling = 1 - numbers["defensive_share"]  # the ESS fraction of an exact density
    reasons = []
    if beta is not None and beta < 1.0:
        reasons.append(f"the rounds stopped ({stop}) at beta {beta:.3g} < 1: the flow fits a tempered posterior")
    if not np.isfinite(log_z):
        reasons.append(f"none of the {numbers['n_draws']} check draws has a nonzero likelihood")
    elif not k_hat < RELIABLE_PARETO_K and ess_fraction < TRUSTED_ESS_FRACTION * ceiling:
        reasons.append(
            f"Pareto k {k_hat:.2f} >= {RELIABLE_PARETO_K} with an ESS fraction of {ess_fraction:.2f}: a few "
            "draws carry the weight, the density misses posterior mass"
        )
    if fit_evidence is not None and np.isfinite(log_z):
        gap = abs(log_z - fit_evidence[0])
        sigma = math.hypot(log_z_se, fit_evidence[1])
        if gap > EVIDENCE_TOLERANCE and gap > EVIDENCE_SIGMAS * sigma:
            reasons.append(
                f"log Z {log_z:.3f} +- {log_z_se:.3f} from the check and {fit_evidence[0]:.3f} +- "
                f"{fit_evidence[1]:.3f} from the fit's draws disagree: one of them misses posterior mass"
            )
    if reasons:
        verdict = "not trusted"
    elif shift <= TRUSTED_SHIFT and ess_fraction >= TRUSTED_ESS_FRACTION * ceiling:
        verdict, advice = "trusted", ""
    else:
        verdict = "reweight"
        reasons.append(
            f"importance weights move the density's draws by {shift:.3f} posterior sd (ESS fraction "
            f"{ess_fraction:.2f}): the density is close enough to correct, not to use as it is"
        )
        advice = "use importance-corrected draws (posterior.sample(n, corrected=True))"
    return PosteriorCheck(
        verdict, k_hat, ess_fraction, shift, log_z, log_z_se, int(numbers["n_draws"]), numbers["defensive_share"],
        None if fit_evidence is None else float(fit_evidence[0]),
        None if fit_evidence is None else float(fit_evidence[1]),
        stop, beta, tuple(reasons), advice,
    )  # fmt: skip


def check_posterior(
    density: DensityModel,
    problem: Problem,
    config: CheckConfig,
    rng: np.random.Generator,
    fit_evidence: tuple[float, float] | None = None,
    stop: str | None = None,
    beta: float | None = None,
    advice: str = "",
) -> PosteriorCheck:
    """:func:`importance_sample` then :func:`judge`: the check of one fitted density."""
    sample = importance_sample(density, problem, config.n_draws, config.defensive_share, rng)
    return judge(sample.numbers(), fit_evidence, stop, beta, advice)


def advice_for(proposal: str, stop: str | None = None, calls: int | None = None, adaptive: Any = None) -> str:
    """What to raise when a fit is not trusted, by how it was fitted (``proposal``: prior,
    adaptive or samples); ``adaptive`` is the rounds' settings (an object or a dict)."""

    def setting(name: str) -> str:
        value = adaptive.get(name) if isinstance(adaptive, Mapping) else getattr(adaptive, name, None)
        return "" if value is None else f" (now {value})"

    if proposal == "adaptive" and stop == "budget":
        return f"raise adaptive max_calls{setting('max_calls')}: the rounds spent {calls} likelihood calls"
    if proposal == "adaptive" and stop == "max_rounds":
        return f"raise adaptive max_rounds{setting('max_rounds')}"
    if proposal == "adaptive":
        return "raise adaptive final_ess_fraction or n_per_round, or train a larger flow (model n_layers)"
    if proposal == "samples":
        return "train longer (training max_steps) or a larger flow (model n_layers, hidden_units)"
    return "draw more prior samples (n_prior_samples) or fit with proposal='adaptive'"
