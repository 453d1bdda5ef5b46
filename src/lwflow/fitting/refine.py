"""The base mixture of a fitted flow refined on fresh draws of the flow: one importance-weighted
EM step with control variates.

A flow with a Gaussian-mixture base has the density

.. math::  q(\\theta) = \\sum_k \\pi_k\\, \\mathcal N(z; \\mu_k, \\sigma_k^2)\\,
           \\left|\\det \\partial z / \\partial \\theta\\right| , \\qquad z = T^{-1}(\\theta) ,

so with the layers :math:`T` fixed, the base that minimises :math:`\\mathrm{KL}(p \\,\\|\\, q)` is
the M-step of a Gaussian mixture fitted to the posterior's draws mapped to :math:`z`
(M-PMC, Cappé, Douc, Guillin, Marin & Robert 2008):

.. math::  \\pi_k \\propto E_p[r_k], \\quad \\mu_k = \\frac{E_p[r_k z]}{E_p[r_k]}, \\quad
           \\sigma_k^2 = \\frac{E_p[r_k z^2]}{E_p[r_k]} - \\mu_k^2 ,

:math:`r_k(z)` the responsibilities of the current base.  The expectations under :math:`p` come
from ``n_draws`` fresh draws of :math:`q` and their self-normalised weights
:math:`\\bar w_i = w_i / \\overline{w}`, :math:`w = \\pi L / q`, written as

.. math::  E_p[s] = E_q[s] + E_q[(\\bar w - 1)\\, s] ,

where :math:`E_q[s]` is known exactly for :math:`s \\in \\{r_k, r_k z, r_k z^2\\}`
(:math:`\\pi_k`, :math:`\\pi_k \\mu_k`, :math:`\\pi_k(\\mu_k^2 + \\sigma_k^2)`: :math:`\\theta \\sim q`
is :math:`z` drawn from the base) and only the correction is estimated: a control variate whose
variance vanishes as :math:`q \\to p`.  Why: the base is set from the training draws (k-means
on prior draws weighted by the likelihood) and training rarely moves it (the README's
double well keeps its initial state: 50 000 prior draws, an ESS of about 2 000), so its mode
masses carry the training draws' noise.  Measured on that example (seeds 0-4, sliced
:math:`W_1` to 200 000 exact draws in posterior sds): 0.028-0.046 before, 0.004-0.009 after
2 000 draws (mode masses 0.482-0.526 before, 0.495-0.505 after); a step on the weights alone
with plain importance sampling (no control variate) left 0.010-0.016 after 8 000 draws (seeds 0-2).

**Draws a fit already has** (``source: rounds``, adaptive rounds): the evidence draws of the
rounds (:func:`lwflow.fitting.rounds.evidence_importance_draws`), each weighted against the
density :math:`g` it was drawn from, :math:`w = \\pi L / g`, cost no likelihood call.  With
:math:`v = q / g`, :math:`E_g[v\\, s] = E_q[s]`, so

.. math::  E_p[s] = E_q[s] + E_g[(\\bar w - v)\\, s] ,

the same control variate (for fresh draws :math:`g = q`, :math:`v = 1`), and the ESS fraction
that fresh draws of :math:`q` would have is :math:`E_g[w]^2 / E_g[w^2 / v]`.  :math:`q` is trained
on these draws, so :math:`v` there is a little higher than at fresh draws; the benchmark's
mode masses and sliced :math:`W_1` (docs/adaptive.md) measure what that costs.

On a truncated model (:mod:`lwflow.models.support`) the exact :math:`E_q[s]` becomes
:math:`E_{q_B}[s] = (E_q[s] - E_q[s\\, 1_{\\theta \\notin B}]) / q(B)`, the outside part from
draws of the flow (no likelihood calls), and the weights are those of the truncated components,
:math:`\\pi_k \\propto E_p[r_k] / m_k` with :math:`m_k` the share of component :math:`k` inside
:math:`B`.  The means and scales are moved only where every component keeps at least
:data:`MOMENTS_MIN_INSIDE` of its mass inside (the truncation's normaliser, which the moment
step ignores, then barely depends on them); otherwise only the weights.  Where the draws'
ESS fraction is below :data:`MIN_ESS_FRACTION` the weights are too uneven for a step to be
better than the noise and the model is left as it is.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from lwflow.fitting.weights import check_log_likelihood
from lwflow.models.flows import BaseInit, StandardisedFlow
from lwflow.models.support import TruncatedModel, inside
from lwflow.settings import RefineConfig
from lwflow.streams import seed_for

if TYPE_CHECKING:
    from lwflow.models.density import DensityModel
    from lwflow.problems.problem import Problem

__all__ = ["refine_base"]

MIN_ESS_FRACTION = 0.5
MOMENTS_MIN_INSIDE = 0.99


def refine_base(
    model: DensityModel,
    problem: Problem,
    config: RefineConfig,
    seed: int,
    beta: float | None = None,
    draws: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[DensityModel, dict[str, Any]]:
    """``model`` with its base mixture refined (a copy; ``model`` is unchanged) and a record of
    the step: ``n_draws`` (likelihood calls made), ``source``, ``ess_fraction``, ``applied``,
    ``moments`` (means and scales moved too), the weights before and after, and why a step was
    not taken.  ``beta``: the last tempering of adaptive rounds; below 1 the flow is of a tempered
    posterior, its verdict is ``not trusted`` whatever its base, and no calls are spent on it.
    ``draws``: likelihood-evaluated draws the fit already has, as ``(theta, log pi L, log g)``
    (module docstring), used where ``config.source`` is ``rounds``; else ``config.n_draws``
    fresh draws of ``model``."""
    flow = model.model if isinstance(model, TruncatedModel) else model
    record: dict[str, Any] = {"n_draws": 0, "applied": False}
    if config.n_draws == 0:
        return model, record | {"reason": "off (refine n_draws 0)"}
    if not isinstance(flow, StandardisedFlow):
        return model, record | {"reason": "no Gaussian-mixture base (RBIG)"}
    if beta is not None and beta < 1:
        return model, record | {"reason": f"adaptive rounds stopped at beta {beta:.3g} < 1"}
    if draws is not None and config.source == "rounds":
        theta, log_target, log_source = draws
        log_q = model.log_prob(theta)
        record["source"] = "rounds"
    else:
        theta = model.sample(config.n_draws, seed_for(seed, "refine"))
        log_likelihood = check_log_likelihood(problem.log_likelihood(theta.copy()), n_samples=len(theta))
        log_target = problem.prior.log_prob(theta) + log_likelihood
        log_q = log_source = model.log_prob(theta)
        record |= {"n_draws": len(theta), "source": "fresh"}
    log_weight = log_target - log_source
    weights = np.exp(log_weight - np.max(log_weight))
    weights /= weights.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        q_over_source = np.exp(log_q - log_source)  # v; 1 for fresh draws
        ess_fraction = float(1 / np.mean(np.where(weights > 0, weights**2 / q_over_source, 0.0)))
    before = flow.base_mixture()
    record |= {"draws": len(theta), "ess_fraction": ess_fraction, "weights_before": before.weights.tolist()}
    if not ess_fraction >= MIN_ESS_FRACTION:
        return model, record | {"reason": f"ESS fraction {ess_fraction:.2f} below {MIN_ESS_FRACTION}"}
    refined = copy.deepcopy(flow)
    expected, inside_share = _expectations_on_support(flow, before, model, seed)
    paid = _statistics(flow.latent(theta), before)
    correction = weights - q_over_source
    mass, first, second = (e + np.tensordot(correction, s, axes=(0, 0)) / len(theta) for e, s in zip(expected, paid))
    mass = np.maximum(mass, 1e-12)
    new_weights = mass / inside_share
    loc, scale = before.loc.copy(), before.scale.copy()
    moments = bool(inside_share.min() >= MOMENTS_MIN_INSIDE)
    if moments:
        mean = first / mass[:, None]
        variance = second / mass[:, None] - mean**2
        movable = np.all(variance > 0, axis=1) & (mass > 1e-6)
        loc[movable], scale[movable] = mean[movable], np.sqrt(variance[movable])
    refined.set_base_mixture(BaseInit(loc=loc, scale=scale, weights=new_weights / new_weights.sum()))
    record |= {"applied": True, "moments": moments, "weights_after": refined.base_mixture().weights.tolist()}
    if isinstance(model, TruncatedModel):
        return TruncatedModel.fit(refined, model.low, model.high, seed_for(seed, "support"), model.n_mass_draws), record
    return refined, record


def _responsibilities(z: np.ndarray, mixture: BaseInit) -> np.ndarray:
    """:math:`r_k(z) \\propto \\pi_k \\mathcal N(z; \\mu_k, \\sigma_k^2)`, rows summing to 1."""
    standard = (z[:, None, :] - mixture.loc) / mixture.scale
    log_r = np.log(mixture.weights) - 0.5 * (standard**2).sum(2) - np.log(mixture.scale).sum(1)
    r = np.exp(log_r - log_r.max(1, keepdims=True))
    return r / r.sum(1, keepdims=True)


def _statistics(z: np.ndarray, mixture: BaseInit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per draw: :math:`r_k`, :math:`r_k z` and :math:`r_k z^2`."""
    r = _responsibilities(z, mixture)
    return r, r[:, :, None] * z[:, None, :], r[:, :, None] * z[:, None, :] ** 2


def _expectations_on_support(
    flow: StandardisedFlow, mixture: BaseInit, model: DensityModel, seed: int
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """:math:`E_{q_B}` of the statistics and each component's share inside the support
    (module docstring): exact for an untruncated model, else less the part outside, from draws."""
    weights, loc, scale = mixture.weights, mixture.loc, mixture.scale
    exact = (weights, weights[:, None] * loc, weights[:, None] * (loc**2 + scale**2))
    if not isinstance(model, TruncatedModel):
        return exact, np.ones(len(weights))
    draws = flow.sample(model.n_mass_draws, seed_for(seed, "refine") + 1)
    outside = ~inside(draws, model.low, model.high)
    if not outside.any():
        return exact, np.ones(len(weights))
    out = [s.sum(0) / len(draws) for s in _statistics(flow.latent(draws[outside]), mixture)]
    mass_inside = 1 - outside.mean()
    inside_share = np.clip(1 - out[0] / weights, 1e-12, 1)
    return tuple((e - o) / mass_inside for e, o in zip(exact, out)), inside_share
