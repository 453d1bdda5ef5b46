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

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp, softmax


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
