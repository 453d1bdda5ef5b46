"""Global mixture weights over frozen experts: AMF-VI's moving average and maximum likelihood.

The mixture is :math:`q(x) = \\sum_k \\pi_k q_k(x)` (paper B, eq. 1).  Both estimators
take the experts' log-densities on fresh draws, ``log_q`` of shape ``(n, K)``, and
optional self-normalised sample weights :math:`w_i` (likelihood weights of prior draws;
uniform for exact target draws).

* AMF-VI (paper B, eq. 3 and Algorithm 1): on batch :math:`t`,
  :math:`\\ell_k^{(t)} = \\sum_i \\bar w_i \\log q_k(x_i)`, then
  :math:`\\pi^{(t+1)} = \\beta \\pi^{(t)} + (1 - \\beta)\\,\\mathrm{softmax}(\\ell^{(t)})`,
  from :math:`\\pi^{(0)}` uniform.  Its fixed point is the average softmax of mean
  log-likelihoods, not the likelihood-maximising mixture.
* EM: maximise :math:`\\sum_i \\bar w_i \\log \\sum_k \\pi_k q_k(x_i)` over the simplex by
  :math:`\\pi_k \\leftarrow \\sum_i \\bar w_i r_{ik}`,
  :math:`r_{ik} = \\pi_k q_k(x_i) / \\sum_j \\pi_j q_j(x_i)` (monotone in the objective).

Example::

    >>> from scipy import stats
    >>> x = stats.norm(0, 1).rvs(1000, random_state=0)
    >>> log_q = np.column_stack([stats.norm(0, 1).logpdf(x), stats.norm(0, 2).logpdf(x)])
    >>> trajectory = ema_weights([log_q[:500], log_q[500:]], beta=0.9)
    >>> trajectory.round(3)
    array([[0.5  , 0.5  ],
           [0.508, 0.492],
           [0.515, 0.485]])
    >>> em_weights(log_q).round(2)
    array([1., 0.])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp, softmax

from lwflow.fitting.weights import weights_from_log_likelihood

__all__ = ["em_weights", "ema_weights", "fresh_batches", "mixture_log_prob", "mixture_samples", "mixture_weights"]


def _normalised(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"sample weights must be {n} non-negative numbers with a positive sum")
    return w / w.sum()


def ema_weights(
    log_q_batches: Sequence[np.ndarray], beta: float = 0.9, batch_weights: Sequence[np.ndarray] | None = None
) -> np.ndarray:
    """The AMF-VI weight trajectory ``(T + 1, K)``: uniform start, one EMA step per batch."""
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    k = log_q_batches[0].shape[1]
    trajectory = [np.full(k, 1.0 / k)]
    for t, log_q in enumerate(log_q_batches):
        w = _normalised(None if batch_weights is None else batch_weights[t], len(log_q))
        mean_log_q = np.where(w[:, None] > 0, log_q, 0.0).T @ w
        trajectory.append(beta * trajectory[-1] + (1 - beta) * softmax(mean_log_q))
    return np.array(trajectory)


def em_weights(
    log_q: np.ndarray, weights: np.ndarray | None = None, max_iterations: int = 1000, tolerance: float = 1e-10
) -> np.ndarray:
    """Maximum-likelihood mixture weights over frozen experts by EM (weighted by ``weights``).

    Works on :math:`\\tilde q_{ik} = q_k(x_i) / \\max_j q_j(x_i)`, computed once: each row's
    largest entry is 1, so :math:`m_i = \\sum_k \\pi_k \\tilde q_{ik}` cannot overflow and is at
    least the weight of the expert best at :math:`x_i`; an iteration is two matrix-vector products,
    :math:`\\pi_k \\leftarrow \\pi_k \\sum_i (\\bar w_i / m_i)\\, \\tilde q_{ik}`.
    """
    w = _normalised(weights, len(log_q))
    keep = w > 0
    log_q, w = log_q[keep], w[keep]
    row_max = log_q.max(axis=1, keepdims=True)
    if not np.all(np.isfinite(row_max)):
        raise ValueError(
            "some weighted draws have log-density -inf (or +inf) under every expert; "
            "drop those draws or the experts that cannot be evaluated there"
        )
    q = np.exp(log_q - row_max)
    pi = np.full(log_q.shape[1], 1.0 / log_q.shape[1])
    previous = -np.inf
    for _ in range(max_iterations):
        mix = np.maximum(q @ pi, np.finfo(float).tiny)
        objective = float(w @ np.log(mix))  # the log-likelihood less the constant w @ row_max
        pi = pi * ((w / mix) @ q)
        if objective - previous < tolerance:
            break
        previous = objective
    return pi / pi.sum()


def mixture_log_prob(log_q: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """:math:`\\log \\sum_k \\pi_k q_k(x)` from the experts' log-densities ``(n, K)``."""
    with np.errstate(divide="ignore"):
        return logsumexp(log_q + np.log(np.asarray(pi, dtype=float)), axis=1)


def mixture_samples(
    expert_samples: Sequence[np.ndarray], pi: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` draws from the mixture: counts ~ Multinomial(n, pi), taken from each expert's own
    independent draws (each must hold at least ``n`` of them), then shuffled."""
    counts = rng.multinomial(n, np.asarray(pi, dtype=float) / np.sum(pi))
    for k, (samples, count) in enumerate(zip(expert_samples, counts)):
        if len(samples) < count:
            raise ValueError(f"expert {k} has {len(samples)} samples, the mixture needs {count}")
    draws = np.concatenate([samples[:count] for samples, count in zip(expert_samples, counts)])
    return draws[rng.permutation(len(draws))]


def fresh_batches(
    problem: Any, exact: bool, n_batches: int, batch_size: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """AMF-VI's fresh batches ``(x, w)``: exact target draws with equal weights (``exact``, from
    ``problem.truth``), or prior draws with their self-normalised likelihood weights
    (:func:`lwflow.fitting.weights.weights_from_log_likelihood`), draws of weight 0 dropped."""
    if exact and problem.truth is None:
        raise ValueError(f"problem {problem.name!r} has no exact sampler; it can only be trained with fit: likelihood")
    batches = []
    for _ in range(n_batches):
        if exact:
            x = problem.truth.sample(batch_size, rng)
            batches.append((x, np.ones(len(x))))
        else:
            x = problem.prior.sample(batch_size, rng)
            w = weights_from_log_likelihood(np.asarray(problem.log_likelihood(x), dtype=float))
            batches.append((x[w > 0], w[w > 0]))
    return batches


def mixture_weights(
    experts: Mapping[str, Any], batches: Sequence[tuple[np.ndarray, np.ndarray]], beta: float
) -> tuple[dict[str, Any], np.ndarray]:
    """AMF-VI (:func:`ema_weights`) and EM (:func:`em_weights`, on all the batches at once) weights
    over frozen ``experts`` (name -> model with ``log_prob``) from weighted ``batches``
    (:func:`fresh_batches`): their summary (``experts``, ``ema``, ``em``, each one's effective
    number of experts, ``beta``, ``n_batches``) and the EMA trajectory ``(T + 1, K)``.  Every
    expert sees all batches in one call, so its per-call costs (e.g. RBIG's tables) are paid once."""
    from lwflow.evaluation.metrics import effective_number  # scipy.stats: 0.35 s that ema_weights users skip

    draws = np.concatenate([x for x, _ in batches])
    log_q = np.column_stack([model.log_prob(draws) for model in experts.values()])
    log_q_batches = np.split(log_q, np.cumsum([len(x) for x, _ in batches])[:-1])
    batch_weights = [w for _, w in batches]
    trajectory = ema_weights(log_q_batches, beta, batch_weights)
    em = em_weights(log_q, np.concatenate([w / w.sum() for w in batch_weights]))
    names = list(experts)
    summary = {
        "experts": names,
        "ema": dict(zip(names, trajectory[-1].tolist())),
        "em": dict(zip(names, em.tolist())),
        "n_eff_ema": effective_number(trajectory[-1]),
        "n_eff_em": effective_number(em),
        "beta": beta,
        "n_batches": len(batches),
    }
    return summary, trajectory
