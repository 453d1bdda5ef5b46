"""AMF-VI moving-average weights and EM mixture weights."""

import numpy as np
import pytest
from scipy import stats

from lwflow.evaluation.metrics import effective_number
from lwflow.fitting.mixture import em_weights, ema_weights, mixture_log_prob, mixture_samples


def test_ema_gives_nearly_all_weight_to_the_expert_that_is_the_truth():
    rng = np.random.default_rng(0)
    experts = [stats.norm(0, 1), stats.norm(3, 1), stats.norm(0, 0.3)]  # others 4.5 and 3.9 nats worse
    batches = []
    for _ in range(60):
        x = rng.standard_normal(500)
        batches.append(np.column_stack([e.logpdf(x) for e in experts]))
    trajectory = ema_weights(batches, beta=0.9)
    assert trajectory[0] == pytest.approx(np.full(3, 1 / 3))
    assert trajectory[-1][0] > 0.95
    assert trajectory.sum(1) == pytest.approx(np.ones(len(trajectory)))


def test_ema_weighted_batches_use_the_self_normalised_mean():
    log_q = np.array([[0.0, -1.0], [-10.0, 0.0]])
    heavy_first = ema_weights([log_q], beta=0.0, batch_weights=[np.array([1.0, 0.0])])[-1]
    assert heavy_first == pytest.approx(np.exp([0.0, -1.0]) / np.exp([0.0, -1.0]).sum())


def test_em_matches_the_closed_form_two_component_case():
    """Experts U(0,1) and U(1,2): the likelihood-maximising weights are the data fractions."""
    x = np.concatenate([np.full(30, 0.5), np.full(70, 1.5)])
    log_q = np.column_stack([stats.uniform(0, 1).logpdf(x), stats.uniform(1, 1).logpdf(x)])
    assert em_weights(log_q) == pytest.approx([0.3, 0.7], abs=1e-8)
    weights = np.where(x < 1, 2.0, 1.0)  # weighted: 60 vs 70
    assert em_weights(log_q, weights) == pytest.approx([60 / 130, 70 / 130], abs=1e-8)


def test_em_rejects_a_draw_that_no_expert_can_explain():
    log_q = np.array([[-1.0, -2.0], [-np.inf, -np.inf]])
    with pytest.raises(ValueError, match="-inf"):
        em_weights(log_q)
    assert em_weights(log_q, np.array([1.0, 0.0])) == pytest.approx([1.0, 0.0], abs=1e-6)  # zero weight: ignored


def test_em_maximises_the_mixture_likelihood():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-2, 1, 300), rng.normal(2, 1, 700)])
    log_q = np.column_stack([stats.norm(-2, 1).logpdf(x), stats.norm(2, 1).logpdf(x)])
    pi = em_weights(log_q)
    best = mixture_log_prob(log_q, pi).sum()
    for other in ([0.25, 0.75], [0.35, 0.65], [0.5, 0.5]):
        assert best >= mixture_log_prob(log_q, np.array(other)).sum()


def test_mixture_samples_follow_the_weights():
    rng = np.random.default_rng(2)
    experts = [np.zeros((5000, 1)), np.ones((5000, 1))]
    draws = mixture_samples(experts, np.array([0.2, 0.8]), 5000, rng)
    assert draws.mean() == pytest.approx(0.8, abs=0.02)


def test_effective_number():
    assert effective_number(np.full(4, 0.25)) == pytest.approx(4.0)
    assert effective_number(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)


def test_amfvi_and_em_weights_from_fresh_batches_favour_the_expert_of_the_target():
    """Exact draws of N(0, 1) in equal-weight batches; of experts N(0, 1) and N(0, 3), EM puts
    nearly all weight on the first and AMF-VI's trajectory moves towards it from uniform; a
    problem without an exact sampler is refused for exact batches, naming it."""
    from types import SimpleNamespace

    from lwflow.fitting.mixture import fresh_batches, mixture_weights

    def expert(scale: float) -> SimpleNamespace:
        return SimpleNamespace(log_prob=lambda x: stats.norm(0, scale).logpdf(x[:, 0]))

    truth = SimpleNamespace(sample=lambda n, rng: rng.normal(0, 1, (n, 1)))
    problem = SimpleNamespace(name="normal", truth=truth)
    batches = fresh_batches(problem, True, 4, 500, np.random.default_rng(0))
    assert [x.shape for x, _ in batches] == [(500, 1)] * 4 and all((w == 1).all() for _, w in batches)
    summary, trajectory = mixture_weights({"narrow": expert(1.0), "wide": expert(3.0)}, batches, 0.9)
    assert summary["experts"] == ["narrow", "wide"] and summary["n_batches"] == 4
    assert summary["em"]["narrow"] > 0.95 and trajectory.shape == (5, 2)
    assert trajectory[0].tolist() == [0.5, 0.5] and np.all(np.diff(trajectory[:, 0]) > 0)
    assert summary["ema"]["narrow"] == trajectory[-1, 0]
    with pytest.raises(ValueError, match="problem 'normal' has no exact sampler"):
        fresh_batches(SimpleNamespace(name="normal", truth=None), True, 1, 10, np.random.default_rng(0))
