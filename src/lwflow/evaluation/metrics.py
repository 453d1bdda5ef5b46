"""Every metric, defined once.  ``p`` is the true posterior, ``q`` the model.

* KL(p || q): Monte Carlo mean of :math:`\\log p(x) - \\log q(x)` over exact draws
  :math:`x \\sim p` (normalised ``p``), with its standard error.
* W1,avg: mean over coordinates of the 1D Wasserstein-1 distance between marginals.
* Sliced W1: mean over ``n_projections`` fixed random unit directions (seeded) of the 1D
  Wasserstein-1 distance between the projected samples.
* NLL: :math:`-\\frac1n \\sum_i \\log q(x_i)` over held-out exact draws (= H(p) + KL).
* W2: exact optimal transport (POT ``emd2``) with squared Euclidean cost between the
  first ``n`` points of each sample (uniform weights), square-rooted.
* MMD^2 with the RBF kernel :math:`k(x, y) = \\exp(-\\lVert x - y\\rVert^2 / 2\\ell^2)` on the
  first ``n`` points: unbiased (U-statistic, diagonal terms dropped) and biased (V-statistic).
* Bridge mass: :math:`q\\{x : p(x) < f \\max p\\}`, the probability the model puts where the
  truth is below a fraction ``f`` of its maximum (the paper's "spurious bridges").
* Hole mass: :math:`p\\{x : q(x) < h \\, p(x)\\}`, the probability of the truth where the model
  is below a fraction ``h`` of it: regions the model tears away (an affine flow cutting a
  ring), which a mean NLL shows only as a few huge terms.  Its floor is 0.
* Per-mode mass: each sample goes to the mixture component of largest responsibility
  :math:`w_k \\mathcal N(x; \\mu_k, \\Sigma_k)`; the shares are compared with the true ones.
* Floors: a sample-based metric between two independent exact samples of the same size;
  a model can be no better than this at that sample size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import optimize
from scipy.stats import multivariate_normal, wasserstein_distance

from lwflow.settings import EvaluationConfig

LogDensity = Callable[[np.ndarray], np.ndarray]


def kl_divergence(log_p_at_p: np.ndarray, log_q_at_p: np.ndarray) -> tuple[float, float]:
    """Monte Carlo :math:`\\mathrm{KL}(p\\|q) = \\mathbb E_p[\\log p - \\log q]` and its standard error."""
    diff = np.asarray(log_p_at_p) - np.asarray(log_q_at_p)
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(diff.size))


def columnwise_w1(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1D Wasserstein-1 between matching columns of ``x`` and ``y``.

    For equal sample sizes :math:`W_1 = \\frac1n \\sum_i |x_{(i)} - y_{(i)}|` (sorted values),
    computed for all columns at once; otherwise scipy's general formula per column.
    """
    if len(x) == len(y):
        return np.abs(np.sort(x, axis=0) - np.sort(y, axis=0)).mean(axis=0)
    return np.array([wasserstein_distance(x[:, j], y[:, j]) for j in range(x.shape[1])])


def average_marginal_w1(x: np.ndarray, y: np.ndarray) -> float:
    """:math:`\\frac1d \\sum_j W_1(x_{\\cdot j}, y_{\\cdot j})`."""
    return float(columnwise_w1(x, y).mean())


def projection_directions(dim: int, n_projections: int, seed: int) -> np.ndarray:
    """``n_projections`` unit vectors, uniform on the sphere, fixed by ``seed``."""
    directions = np.random.default_rng(seed).standard_normal((n_projections, dim))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def sliced_w1(x: np.ndarray, y: np.ndarray, n_projections: int = 100, seed: int = 0) -> float:
    """:math:`\\frac1P \\sum_k W_1(x v_k, y v_k)` over fixed directions :math:`v_k`."""
    directions = projection_directions(x.shape[1], n_projections, seed)
    return float(columnwise_w1(x @ directions.T, y @ directions.T).mean())


def log_density_maximum(log_p: LogDensity, samples: np.ndarray, n_starts: int = 20) -> float:
    """:math:`\\max_x \\log p(x)`: best sample, refined by Nelder-Mead from the ``n_starts`` best."""
    values = log_p(samples)
    starts = samples[np.argsort(values)[-n_starts:]]
    best = float(values.max())
    for start in starts:
        result = optimize.minimize(lambda z: -float(log_p(z[None, :])[0]), start, method="Nelder-Mead")
        if np.isfinite(result.fun):
            best = max(best, -float(result.fun))
    return best


def bridge_mass(log_p_at_samples: np.ndarray, log_p_max: float, fraction: float) -> float:
    """Share of samples where :math:`p < f \\max p`: on ``q``'s samples, the bridge mass of ``q``."""
    return float(np.mean(np.asarray(log_p_at_samples) < log_p_max + np.log(fraction)))


def hole_mass(log_p_at_p: np.ndarray, log_q_at_p: np.ndarray, fraction: float) -> float:
    """Share of exact draws where :math:`q < h\\, p`: on ``p``'s draws, the hole mass of ``q``."""
    return float(np.mean(np.asarray(log_q_at_p) < np.asarray(log_p_at_p) + np.log(fraction)))


def component_masses(
    samples: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> np.ndarray:
    """Share of ``samples`` assigned to each Gaussian component :math:`k` by
    :math:`\arg\\max_k \\log w_k + \\log \\mathcal N(x; \\mu_k, \\Sigma_k)`."""
    scores = np.stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(samples).reshape(-1)
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
    )
    return np.bincount(scores.argmax(0), minlength=len(weights)) / len(samples)


def wasserstein2(x: np.ndarray, y: np.ndarray, n: int) -> float:
    """:math:`W_2` between the first ``n`` points of ``x`` and ``y`` by exact optimal transport."""
    import ot

    x, y = x[:n], y[:n]
    cost = ot.dist(x, y, metric="sqeuclidean")
    return float(np.sqrt(ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cost, numItermax=10**7)))


def mmd_squared(x: np.ndarray, y: np.ndarray, n: int, bandwidth: float) -> tuple[float, float]:
    """Unbiased and biased :math:`\\mathrm{MMD}^2` (RBF kernel, length scale ``bandwidth``) on ``n`` points each."""
    x, y = x[:n], y[:n]

    def gram(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T
        return np.exp(-np.maximum(sq, 0.0) / (2 * bandwidth**2))

    kxx, kyy, kxy = gram(x, x), gram(y, y), gram(x, y)
    m, k = len(x), len(y)
    unbiased = (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (k * (k - 1)) - 2 * kxy.mean()
    )
    biased = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    return float(unbiased), float(biased)


def negative_log_likelihood(log_q_at_p: np.ndarray) -> float:
    """:math:`-\\mathbb E_p[\\log q]` over held-out exact draws."""
    return float(-np.mean(log_q_at_p))


def effective_number(weights: np.ndarray) -> float:
    """:math:`N_{\\rm eff} = \\exp(-\\sum_k \\pi_k \\log \\pi_k)`: 1 for one expert, K for uniform weights."""
    w = np.asarray(weights, dtype=float)
    w = w[w > 0] / w.sum()
    return float(np.exp(-(w * np.log(w)).sum()))


def sample_metrics(x: np.ndarray, y: np.ndarray, evaluation: EvaluationConfig) -> dict[str, float]:
    """The sample-based metrics between two samples (a model's and the truth's, or two truths'):
    sliced W1 (``evaluation.n_projections``, ``projection_seed``), W2 (``w2_points``) and MMD
    (``mmd_points``, ``mmd_bandwidth``)."""
    mmd_u, mmd_b = mmd_squared(x, y, evaluation.mmd_points, evaluation.mmd_bandwidth)
    return {
        "w1_avg": average_marginal_w1(x, y),
        "sliced_w1": sliced_w1(x, y, evaluation.n_projections, evaluation.projection_seed),
        "w2": wasserstein2(x, y, evaluation.w2_points),
        "mmd_u": mmd_u,
        "mmd_b": mmd_b,
    }


def score_model(
    truth_log_prob: LogDensity,
    log_q_at_p: np.ndarray,
    q_samples: np.ndarray,
    reference: dict[str, np.ndarray],
    evaluation: EvaluationConfig,
) -> dict[str, float]:
    r"""Every metric of one model against the exact posterior :math:`p`: KL(p || q) with its
    standard error and the NLL from ``log_q_at_p`` (the model's log-density on the reference
    draws), the sample metrics (:func:`sample_metrics`) of its own draws ``q_samples`` against
    the reference draws, their bridge mass under :math:`p` and the reference's hole mass under
    :math:`q`.

    Arguments:
        truth_log_prob: :math:`\log p` of an array of points.
        log_q_at_p: :math:`\log q` at ``reference["samples"]``.
        q_samples: the model's draws.
        reference: the exact draws (``samples``), :math:`\log p` at them (``log_p``) and the
            highest :math:`\log p` found (``log_p_max``).
        evaluation: the evaluation settings (``bridge_fraction``, ``hole_fraction`` and those of
            :func:`sample_metrics`).
    """
    kl, kl_se = kl_divergence(reference["log_p"], log_q_at_p)
    result = {"kl": kl, "kl_se": kl_se, "nll": negative_log_likelihood(log_q_at_p), "n_samples": len(q_samples)}
    result |= sample_metrics(q_samples, reference["samples"], evaluation)
    result["bridge_mass"] = bridge_mass(
        truth_log_prob(q_samples), float(reference["log_p_max"]), evaluation.bridge_fraction
    )
    result["hole_mass"] = hole_mass(reference["log_p"], log_q_at_p, evaluation.hole_fraction)
    return result
