"""Likelihood weights of prior samples, their effective sample size, and weight clipping.

Prior draws :math:`\\theta_i \\sim \\pi` weighted by :math:`w_i \\propto L(\\theta_i)` are an
importance sample of the posterior.  Their quality is the Kish effective sample size

.. math::  \\mathrm{ESS} = (\\textstyle\\sum_i w_i)^2 / \\sum_i w_i^2 .

Clipping (paper A, Algorithm 1, "optional pre-processing") caps the largest weights to
trade a little bias for much less variance.  Importance weights of any proposal, given by their
logarithms, have the same statistics: :func:`ess_of_log_weights`, :func:`log_mean_exp` (the
evidence), :func:`pareto_k` (PSIS), and :func:`weighted_resample` (equally weighted draws).
:func:`evaluate_log_likelihood` calls a problem's likelihood in checked batches (torch-free, so
the likelihood jobs of the workflow do not pay for its import).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from lwflow.settings import ClippingConfig
from lwflow.weighted_draws import effective_sample_size, max_weight_share

if TYPE_CHECKING:
    from lwflow.problems import Problem

CLIP_STRATEGIES = ("none", "quantile", "max_share")
LIKELIHOOD_BATCH = 10_000  # rows per likelihood call (evaluate_log_likelihood)
TRUSTED_PARETO_K = 0.7


class LikelihoodError(ValueError):
    """The log-likelihood values cannot be used as weights."""


def check_log_likelihood(log_likelihood: np.ndarray, n_samples: int | None = None) -> np.ndarray:
    """The log-likelihoods as floats, checked: NaN, ``+inf`` or a wrong shape are errors that
    say how many samples are affected and what to change; ``-inf`` is a valid zero likelihood."""
    if np.iscomplexobj(log_likelihood):
        raise LikelihoodError("the log-likelihood returned complex values; return real floats, one per row of theta")
    if np.asarray(log_likelihood).dtype.kind not in "biuf":
        raise LikelihoodError(
            f"the log-likelihood returned values of type {np.asarray(log_likelihood).dtype} "
            f"(e.g. {np.asarray(log_likelihood).ravel()[:1].tolist()}); return real floats, one per row of theta"
        )
    ll = np.asarray(log_likelihood, dtype=float)
    expected = (n_samples,) if n_samples is not None else (ll.shape[0],) if ll.ndim == 1 else None
    if ll.ndim != 1 or (expected is not None and ll.shape != expected):
        raise LikelihoodError(
            f"the log-likelihood returned shape {ll.shape}, expected {expected or '(n,)'}: "
            "return one value per row of theta"
        )
    n_nan = int(np.isnan(ll).sum())
    if n_nan:
        raise LikelihoodError(
            f"the log-likelihood is NaN for {n_nan} of {ll.size} samples; return -inf where the "
            "likelihood is zero and fix the NaN (e.g. log of a negative number, 0/0)"
        )
    n_posinf = int(np.isposinf(ll).sum())
    if n_posinf:
        raise LikelihoodError(
            f"the log-likelihood is +inf for {n_posinf} of {ll.size} samples; the likelihood must be finite"
        )
    return ll


def evaluate_log_likelihood(
    problem: Problem,
    theta: np.ndarray,
    batch_rows: int = LIKELIHOOD_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``problem.log_likelihood`` over ``theta`` in batches of ``batch_rows`` rows, each checked
    (NaN, ``+inf``, shape, complex: :func:`lwflow.fitting.weights.check_log_likelihood`);
    ``progress(done, total)`` is called after every batch."""
    parts, done = [], 0
    for start in range(0, len(theta), batch_rows):
        rows = theta[start : start + batch_rows]
        # a copy: a likelihood that changes its argument in place must not move the draws
        parts.append(check_log_likelihood(problem.log_likelihood(rows.copy()), n_samples=len(rows)))
        done += len(rows)
        if progress is not None:
            progress(done, len(theta))
    return np.concatenate(parts) if parts else np.empty(0)


def weights_from_log_likelihood(log_likelihood: np.ndarray, n_samples: int | None = None) -> np.ndarray:
    """Weights :math:`w_i = \\exp(\\ell_i - \\max_j \\ell_j)` in [0, 1], checked for bad values
    (:func:`check_log_likelihood`, and not all ``-inf``)."""
    ll = check_log_likelihood(log_likelihood, n_samples)
    if not np.isfinite(ll).any():
        raise LikelihoodError(
            f"the log-likelihood is -inf for all {ll.size} samples: no prior sample is compatible with "
            "the data; widen the prior, draw more prior samples or check the likelihood"
        )
    return np.exp(ll - ll.max())


def _quantile_cap(weights: np.ndarray, threshold: float) -> float:
    positive = weights[weights > 0]
    return float(np.quantile(positive, threshold))


def _max_share_cap(weights: np.ndarray, threshold: float) -> float:
    """Cap ``c`` with ``c / sum(min(w, c)) = threshold``, so no weight holds more than that share.

    With weights sorted in decreasing order and the top ``k`` capped,
    :math:`c = t\\,S_k / (1 - t k)` where :math:`S_k` sums the uncapped weights; the right
    ``k`` is the first for which ``c`` lies in :math:`[w_{(k+1)}, w_{(k)}]`.
    """
    w = np.sort(weights[weights > 0])[::-1]
    if w[0] / w.sum() <= threshold:
        return float(w[0])
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])
    for k in range(1, w.size):
        if threshold * k >= 1:
            break
        cap = threshold * tail[k] / (1 - threshold * k)
        if w[k] <= cap <= w[k - 1]:
            return float(cap)
    raise ValueError(
        f"max_share threshold {threshold} cannot be met by {w.size} nonzero weights (it needs more than "
        f"1/threshold = {1 / threshold:.0f}): raise clipping.threshold, or draw more prior samples"
    )


def clip_weights(weights: np.ndarray, strategy: str, threshold: float | None = None) -> np.ndarray:
    """Cap large weights: :math:`w_i \\leftarrow \\min(w_i, c)`.

    Strategies:
      * ``none``: unchanged.
      * ``quantile``: ``c`` is the ``threshold``-quantile (in (0, 1]) of the positive weights.
      * ``max_share``: the smallest ``c`` such that no weight exceeds ``threshold`` (in (0, 1])
        of the clipped total.
    """
    w = np.asarray(weights, dtype=float)
    if strategy == "none":
        return w.copy()
    if strategy not in CLIP_STRATEGIES:
        raise ValueError(f"unknown clipping strategy {strategy!r}; choose one of {CLIP_STRATEGIES}")
    if threshold is None or not 0 < threshold <= 1:
        raise ValueError(f"clipping threshold must be in (0, 1], got {threshold}")
    cap = _quantile_cap(w, threshold) if strategy == "quantile" else _max_share_cap(w, threshold)
    return np.minimum(w, cap)


@dataclass(frozen=True)
class ClipReport:
    """What clipping did: ESS and largest weight share before and after."""

    strategy: str
    threshold: float | None
    n_samples: int
    n_zero_weight: int
    n_clipped: int
    ess_before: float
    ess_after: float
    max_share_before: float
    max_share_after: float

    @classmethod
    def between(cls, weights: np.ndarray, clipped: np.ndarray, strategy: str, threshold: float | None) -> ClipReport:
        """The report of ``clipped = clip_weights(weights, strategy, threshold)``."""
        return cls(
            strategy=strategy,
            threshold=threshold,
            n_samples=int(clipped.size),
            n_zero_weight=int(np.sum(clipped == 0)),
            n_clipped=int(np.sum(clipped < weights)),
            ess_before=effective_sample_size(weights),
            ess_after=effective_sample_size(clipped),
            max_share_before=max_weight_share(weights),
            max_share_after=max_weight_share(clipped),
        )

    def as_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)


class WeightsError(ValueError):
    """The weights are too few or too uneven to train on."""


def training_weights(log_likelihood: np.ndarray, config: ClippingConfig) -> tuple[np.ndarray, ClipReport]:
    """The weights a fit trains on: from log-likelihoods, clipped by ``config``; stops where the ESS before or after
    clipping is below ``config.min_ess`` (the gate before clipping is the one that can fire under
    ``max_share``, which lifts the ESS to about ``1/threshold``), or where clipping multiplies the
    ESS by more than ``config.max_ess_gain``."""
    weights = weights_from_log_likelihood(log_likelihood)
    clipped = clip_weights(weights, config.strategy, config.threshold)
    report = ClipReport.between(weights, clipped, config.strategy, config.threshold)
    if not report.ess_after > 0:  # all weights 0, or so small that their squares underflow
        raise WeightsError(
            f"clipping ({config.strategy}, threshold {config.threshold}) set every weight to 0 or to below "
            "1e-150 (the threshold lies below all but a few weights); use strategy max_share or a larger threshold"
        )
    if report.ess_after > config.max_ess_gain * report.ess_before:
        raise WeightsError(
            f"clipping ({config.strategy}, threshold {config.threshold}) raised the effective sample size from "
            f"{report.ess_before:.1f} to {report.ess_after:.1f}, more than clipping.max_ess_gain = "
            f"{config.max_ess_gain} times: the clipped weights flatten the posterior towards the prior. Use a "
            "milder clipping (strategy max_share, or a smaller quantile threshold), draw more prior samples, "
            "or use adaptive proposals (proposal: adaptive)"
        )
    if not report.ess_before >= config.min_ess:  # clipping caps weights; it adds no information
        raise WeightsError(
            f"effective sample size {report.ess_before:.1f} before clipping ({report.ess_after:.1f} after) is below "
            f"the floor clipping.min_ess = {config.min_ess}: too few draws carry the posterior, and clipping "
            "only hides it. Draw more prior samples, narrow the prior, or use adaptive proposals "
            "(proposal: adaptive)"
        )
    if not report.ess_after >= config.min_ess:
        raise WeightsError(
            f"effective sample size {report.ess_after:.1f} after clipping (before {report.ess_before:.1f}) is below "
            f"the floor clipping.min_ess = {config.min_ess}: draw more prior samples, narrow the prior, "
            "or clip the largest weights"
        )
    return clipped, report


def log_evidence(log_likelihood: np.ndarray) -> tuple[float, float]:
    r"""Importance estimate of the evidence from prior draws and its standard error.

    With :math:`\theta_i \sim \pi` and :math:`\ell_i = \log L(\theta_i)`,

    .. math::  \hat Z = \frac1N \sum_i e^{\ell_i}, \qquad
               \operatorname{se}(\log \hat Z) \approx \frac{\operatorname{sd}(L)}{\sqrt N\,\hat Z}
               = \sqrt{1/\mathrm{ESS} - 1/N},

    the delta method with the Kish ESS of the unclipped weights.  Unbiased for :math:`Z`, but
    poor when the ESS is small (tens): the likelihood's mass then sits in a few draws, the
    error estimate is itself noisy, and a mode no draw hit is missing from both.
    """
    ll = check_log_likelihood(log_likelihood)
    weights = weights_from_log_likelihood(ll)  # e^(l - max l)
    n, ess = ll.size, effective_sample_size(weights)
    log_z = float(ll.max() + math.log(weights.sum()) - math.log(n))
    return log_z, float(math.sqrt(max(1 / ess - 1 / n, 0.0)))


def ess_of_log_weights(log_w: np.ndarray) -> float:
    """Kish ESS of weights given by their logarithms (``-inf``: zero weight)."""
    finite = np.isfinite(log_w)
    if not finite.any():
        return 0.0
    return effective_sample_size(np.exp(log_w[finite] - log_w[finite].max()))


def log_mean_exp(log_w: np.ndarray) -> tuple[float, float]:
    """:math:`\\log \\frac1n \\sum_i e^{\\ell_i}` and its standard error :math:`\\sqrt{1/\\mathrm{ESS} - 1/n}`."""
    finite = np.isfinite(log_w)
    top = log_w[finite].max()
    log_z = float(top + math.log(np.exp(log_w[finite] - top).sum()) - math.log(len(log_w)))
    return log_z, float(math.sqrt(max(1 / ess_of_log_weights(log_w) - 1 / len(log_w), 0.0)))


def pareto_k(log_weights: np.ndarray) -> float:
    """Pareto :math:`\\hat k` of importance weights, as PSIS computes it (Vehtari et al. 2024,
    arXiv:1507.02646; arviz-stats' ``psislw`` with ``r_eff = 1``); below
    :data:`TRUSTED_PARETO_K` the weighted estimates are reliable.  NaN where there is no tail to
    fit (fewer than 5 nonzero weights, or equal weights at the top).

    The largest :math:`M = \\lfloor 3\\sqrt n \\rfloor` weights (:math:`\\lfloor n/5 \\rfloor`
    for :math:`n \\le 225`), less the weight just below them, are fit by a generalized Pareto law
    (:func:`_generalized_pareto_shape`); :math:`\\hat k` is its shape.

    Written here rather than imported: ``arviz_stats`` costs 2.4 s to import on a quiet 2-core
    machine (``python -X importtime``: it imports xarray, matplotlib and scipy.stats), which every
    workflow job that checks a posterior paid for these 20 lines.  The test suite asserts that
    this function returns arviz-stats' value bit for bit."""
    finite = log_weights[np.isfinite(log_weights)]
    n = finite.size
    n_tail = int(np.floor(3 * n**0.5) if n > 225 else np.floor(n / 5))  # PSIS's tail, r_eff = 1
    ordered = np.sort(finite - finite.max())  # the weights over the largest, as logarithms
    if n_tail < 5 or np.ptp(ordered[n - n_tail :]) == 0:
        return math.nan  # too few weights, or a flat tail: no tail to fit
    top, cutoff = np.exp(ordered[n - n_tail :]), np.exp(ordered[n - n_tail - 1])
    return float(_generalized_pareto_shape(top - cutoff))


def _generalized_pareto_shape(excess: np.ndarray) -> float:
    """Shape :math:`k` of a generalized Pareto law fit to the sorted excesses ``excess``
    (:math:`n` of them): the empirical Bayes estimate of Zhang and Stephens (2009) over
    :math:`m = 30 + \\lfloor\\sqrt n\\rfloor` grid values of :math:`b = -k/\\sigma`,

    .. math::  \\ell(b) = n\\big(\\log(-b/k(b)) - k(b) - 1\\big), \\quad
               k(b) = \\tfrac1n \\textstyle\\sum_i \\log(1 - b x_i),

    :math:`\\hat b = \\sum_j b_j\\, e^{\\ell(b_j)} / \\sum_j e^{\\ell(b_j)}`, then the weak prior
    of PSIS: :math:`\\hat k = (n\\,k(\\hat b) + 10 \\cdot 0.5) / (n + 10)`.  The operations are
    arviz-stats' ``_gpdfit``, in its order, so the value is the same to the last bit."""
    from scipy.special import logsumexp

    # a tail whose lower quarter ties the cutoff divides by zero: NaN or a value, as in arviz-stats
    with np.errstate(divide="ignore", invalid="ignore"):
        n = len(excess)
        m = 30 + int(n**0.5)
        b = 1 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
        b /= 3 * excess[int(n / 4 + 0.5) - 1]
        b += 1 / excess[-1]
        k = np.mean(np.log1p(-b[:, None] * excess), axis=1)
        log_likelihood = n * (np.log(-b / k) - k - 1)
        weights = np.exp(log_likelihood - logsumexp(log_likelihood))
        kept = weights >= 10 * np.finfo(float).eps  # negligible weights dropped
        weights, b = weights[kept], b[kept]
        weights /= weights.sum()
        shape = np.mean(np.log1p(-np.sum(b * weights) * excess))
        return (n * shape + 10 * 0.5) / (n + 10)


def weighted_resample(theta: np.ndarray, log_weight: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` rows of ``theta`` drawn with replacement, with probability proportional to
    :math:`e^{\\log w}` (multinomial resampling; ``-inf``: never drawn)."""
    finite = np.isfinite(log_weight)
    if not finite.any():
        raise ValueError("no draw has a nonzero weight: the proposal and the posterior do not overlap")
    weights = np.where(finite, np.exp(log_weight - np.max(log_weight[finite])), 0.0)
    return theta[np.random.default_rng(int(seed)).choice(len(theta), size=int(n), p=weights / weights.sum())]
