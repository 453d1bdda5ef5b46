"""Adaptive rounds: balance-heuristic weights, the tempering schedule, the evidence, mode masses."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

import lwflow
from benchmarks.scaling import two_mode_problem
from lwflow.fitting.modes import select_n_modes
from lwflow.fitting.rounds import (
    Pool,
    balance_heuristic_log_weights,
    evidence,
    evidence_draws,
    next_beta,
    next_round_size,
    round_size,
)
from lwflow.fitting.weights import ess_of_log_weights, log_mean_exp, pareto_k
from lwflow.settings import AdaptiveConfig

TINY = {"arch": "realnvp", "n_modes": "auto", "n_layers": 4, "hidden_units": 32}
TRAINING = {"max_steps": 400, "eval_every": 50, "patience": 4, "batch_size": 512}


def test_balance_heuristic_weights_match_the_closed_form_of_two_gaussian_proposals():
    """Proposals N(0, 1) (300 draws) and N(2, 1) (100 draws), target 5 N(1, 0.5^2)."""
    rng = np.random.default_rng(0)
    q1, q2, target = stats.norm(0, 1), stats.norm(2, 1), stats.norm(1, 0.5)
    x = np.concatenate([q1.rvs(300, random_state=rng), q2.rvs(100, random_state=rng)])
    log_w = balance_heuristic_log_weights(
        np.log(5) + target.logpdf(x), np.stack([q1.logpdf(x), q2.logpdf(x)]), np.array([300, 100])
    )
    expected = 5 * target.pdf(x) / (0.75 * q1.pdf(x) + 0.25 * q2.pdf(x))
    np.testing.assert_allclose(np.exp(log_w), expected, rtol=1e-12)
    # unbiased: the mean weight estimates the target's mass, 5
    estimates = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x = np.concatenate([q1.rvs(300, random_state=rng), q2.rvs(100, random_state=rng)])
        log_w = balance_heuristic_log_weights(
            np.log(5) + target.logpdf(x), np.stack([q1.logpdf(x), q2.logpdf(x)]), np.array([300, 100])
        )
        estimates.append(np.exp(log_w).mean())
    assert np.mean(estimates) == pytest.approx(5, abs=3 * np.std(estimates) / np.sqrt(200))


def test_the_next_beta_keeps_the_ess_at_its_target():
    rng = np.random.default_rng(1)
    x = rng.uniform(-10, 10, size=(5000, 2))
    log_prior = np.full(5000, -np.log(400.0))
    log_likelihood = -0.5 * (x**2).sum(1) / 0.05
    beta = next_beta(log_prior, log_likelihood, log_prior[None, :], np.array([5000]), 0.0, 500)
    assert 0 < beta < 1
    weights = np.exp(beta * (log_likelihood - log_likelihood.max()))
    assert weights.sum() ** 2 / (weights**2).sum() == pytest.approx(500, rel=0.01)


def _pool_of_rounds(scales: list[float], n: int, seed: int) -> Pool:
    """A 2-D unit-Gaussian likelihood under a flat prior on [-10, 10]^2, one round drawn from
    N(0, scale^2 I) per ``scale`` (each round's proposal evaluated at its own draws only)."""
    rng = np.random.default_rng(seed)
    theta = np.concatenate([scale * rng.normal(size=(n, 2)) for scale in scales])
    own = np.concatenate(
        [stats.norm(0, scale).logpdf(theta[i * n : (i + 1) * n]).sum(1) for i, scale in enumerate(scales)]
    )
    log_proposals = np.full((len(scales), len(theta)), -np.inf)
    for i in range(len(scales)):
        log_proposals[i, i * n : (i + 1) * n] = own[i * n : (i + 1) * n]
    log_likelihood = stats.norm.logpdf(theta).sum(1)
    return Pool(theta, np.full(len(theta), -np.log(400.0)), log_likelihood, log_proposals, np.full(len(scales), n))


def test_one_poor_round_among_the_evidence_rounds_costs_little_ess_and_no_accuracy():
    """Rounds 1-3 after the prior's round 0: two good proposals (sd 1.3), then a poor one (sd 0.45, whose
    weights have infinite variance).  Weighed by their own ESS, the rounds keep about the good
    rounds' ESS and log Z stays within 0.015 nats on average; weighed by size (the unbiased
    alternative) the poor round's few huge weights cut the ESS and the error grows."""
    exact = -np.log(400.0)  # log Z = log(1/400): the box holds all the mass to 1e-21
    errors, errors_by_size, z_scores = [], [], []
    for seed in range(20):
        pool = _pool_of_rounds([10.0, 1.3, 1.3, 0.45], 2000, seed)
        good = sum(ess_of_log_weights(pool.own_log_weights(s)) for s in (1, 2))
        _, log_w = evidence_draws(pool)
        by_size = np.concatenate([pool.own_log_weights(s) for s in (1, 2, 3)])
        assert ess_of_log_weights(log_w) > 0.9 * good > ess_of_log_weights(by_size)
        log_z, se, _ = evidence(pool)
        errors.append(log_z - exact)
        errors_by_size.append(log_mean_exp(by_size)[0] - exact)
        z_scores.append((log_z - exact) / se)
    assert abs(np.mean(errors)) < 0.015 and np.mean(np.abs(errors)) < 0.5 * np.mean(np.abs(errors_by_size))
    assert np.std(z_scores) < 2.0  # the se is about right


def test_a_round_drawn_from_a_broad_tempered_flow_adds_its_ess_to_the_evidence():
    """Round 1 drawn from a proposal three times broader than the posterior (a flow trained at
    beta < 1), round 2 from a good one: both count, each by its own ESS, so the evidence draws
    hold more ESS than round 2's alone and log Z stays accurate."""
    exact = -np.log(400.0)
    errors = []
    for seed in range(20):
        pool = _pool_of_rounds([10.0, 3.0, 1.3], 2000, seed)
        broad, good = (ess_of_log_weights(pool.own_log_weights(s)) for s in (1, 2))
        assert 100 < broad < 0.5 * good
        assert ess_of_log_weights(evidence_draws(pool)[1]) > good + 0.9 * broad
        errors.append(evidence(pool)[0] - exact)
    assert abs(np.mean(errors)) < 0.01 and np.max(np.abs(errors)) < 0.05


def test_pareto_k_separates_bounded_from_heavy_tailed_weights():
    rng = np.random.default_rng(2)
    assert pareto_k(np.log(rng.uniform(size=20_000))) < 0.5
    assert pareto_k(1.5 * np.log(1 / rng.uniform(size=20_000))) > 0.7  # Pareto tail with k = 1.5


@pytest.mark.parametrize("n", [40, 225, 226, 5_000, 40_000])
def test_pareto_k_is_arviz_stats_psis_bit_for_bit(n):
    """lwflow's k-hat (written to spare every job arviz-stats' 2.4 s import) against arviz-stats'
    own PSIS, on light, heavy and mixed tails, with -inf weights among them."""
    from arviz_stats.base import array_stats

    rng = np.random.default_rng(n)
    for log_w in (
        np.log(rng.uniform(size=n)),
        1.5 * np.log(1 / rng.uniform(size=n)),
        rng.normal(size=n) * 3 + np.where(rng.uniform(size=n) < 0.1, -np.inf, 0.0),
        np.r_[np.zeros(n - 5), np.arange(1.0, 6.0)],  # a tail that ties its cutoff
    ):
        finite = log_w[np.isfinite(log_w)]
        with np.errstate(all="ignore"):  # arviz-stats warns on the tied tail; lwflow's k-hat does not
            expected = float(array_stats.psislw(-(finite - finite.max()))[1])
        assert pareto_k(log_w) == expected
    assert np.isnan(pareto_k(np.log(rng.uniform(size=24))))  # a PSIS tail of 4: none to fit (arviz-stats raises)


def test_auto_modes_count_modes_not_clumps_of_heavy_draws():
    """A one-mode 10-D posterior seen through weights with an ESS of about 30."""
    rng = np.random.default_rng(3)
    u = rng.normal(size=(20_000, 10))
    weights = np.exp(-0.5 * (u**2).sum(1) * 6)  # a narrow posterior seen through N(0, I) draws: ESS ~ 26
    ess = weights.sum() ** 2 / (weights**2).sum()
    assert 10 < ess < 100
    assert select_n_modes(u, weights, seed=0).n_modes == 1


def test_an_adaptive_fit_gets_the_evidence_of_a_gaussian_within_3_standard_errors():
    y, noise = np.array([0.5, -0.5, 1.0]), 0.05
    prior = lwflow.Gaussian(np.zeros(3), 4.0)
    problem = lwflow.Problem("narrow", prior, lambda t: stats.multivariate_normal(y, noise * np.eye(3)).logpdf(t))
    adaptive = {"n_per_round": 2000, "max_calls": 20_000}
    posterior = lwflow.fit(problem, seed=0, model=TINY, training=TRAINING, proposal="adaptive", adaptive=adaptive)
    exact = stats.multivariate_normal(np.zeros(3), (4.0 + noise) * np.eye(3)).logpdf(y)
    assert abs(posterior.log_evidence - exact) < 3 * posterior.log_evidence_se
    assert posterior.diagnostics["n_likelihood_calls"] <= 20_000
    betas = [r["beta"] for r in posterior.diagnostics["rounds"]]
    assert betas[0] < 1 and betas == sorted(betas) and betas[-1] == 1.0  # tempered, then the posterior
    stages = {"draw", "likelihood", "weighing", "modes", "training", "support"}  # each round's time, per stage
    assert all(set(r["seconds"]) == stages and min(r["seconds"].values()) >= 0 for r in posterior.diagnostics["rounds"])


def test_an_adaptive_fit_of_a_5d_two_mode_problem_recovers_both_mode_masses():
    problem = two_mode_problem(5)
    adaptive = {"n_per_round": 3000, "max_calls": 30_000}
    posterior = lwflow.fit(problem, seed=0, model=TINY, training=TRAINING, proposal="adaptive", adaptive=adaptive)
    draws = posterior.sample(10_000, seed=1)
    assert abs((draws[:, 0] > 0).mean() - 0.5) < 0.03
    assert np.abs(draws[:, 0]).mean() == pytest.approx(4, abs=0.5)  # modes at +-4 (a tiny flow: biased inwards)
    assert posterior.diagnostics["n_likelihood_calls"] <= 30_000
    theta, log_w = posterior.weighted_draws["theta"], posterior.weighted_draws["log_weight"]
    assert theta.shape[1] == 5 and len(theta) == len(log_w) < posterior.diagnostics["n_likelihood_calls"]
    resampled = posterior.resample(10_000, seed=1)
    assert abs((resampled[:, 0] > 0).mean() - 0.5) < 0.03
    assert np.abs(resampled[:, 0]).mean() == pytest.approx(4, abs=0.1)  # the weights remove the flow's bias


def test_a_warm_start_continues_the_last_rounds_flow_where_its_base_modes_stay():
    """adaptive.warm_start_steps: a round's flow with as many base modes as the last round's
    starts from it and trains that many steps; round 0's, a round whose modes changed and the
    final flow train training.max_steps from scratch."""
    from lwflow.fitting.rounds import adaptive_rounds
    from lwflow.settings import AdaptiveConfig, ModelConfig, TrainConfig

    problem = two_mode_problem(2)
    states = []
    config = AdaptiveConfig(n_per_round=1000, max_calls=4000, warm_start_steps=60, tempering_round_share=1.0)
    model = ModelConfig(**{**TINY, "n_modes": 2})
    adaptive_rounds(problem, config, model, 0, TrainConfig(**TRAINING), on_round=states.append)
    fitted = states[-1].fitted
    assert len(fitted) == 4
    warm = [f.facts["warm_start"] for f in fitted]
    assert warm == [False, True, True, False]  # the last one is the final flow
    last_steps = [int(f.history["step"].iloc[-1]) for f in fitted]
    assert last_steps[1:3] == [60, 60] and last_steps[0] > 60 and last_steps[3] > 60


def test_the_proposal_flows_stop_at_their_own_patience_and_the_final_flow_at_the_trainings(monkeypatch):
    """adaptive.proposal_patience: each flow that only proposes the next round's draws trains with
    that patience; the final flow with training.patience; the workflow's round stage records the
    same (Plan.proposal_model_settings), and the final model's settings keep training.patience."""
    import lwflow.fitting.model_fit as model_fit
    from lwflow.fitting.rounds import adaptive_rounds, proposal_training
    from lwflow.settings import ModelConfig, TrainConfig

    patiences = []

    def spy(*args, **kwargs):
        patiences.append(args[5].patience)  # fit_model(theta, weights, support, model, seed, training, ...)
        return fit_model(*args, **kwargs)

    fit_model = model_fit.fit_model
    monkeypatch.setattr(model_fit, "fit_model", spy)
    config = AdaptiveConfig(n_per_round=1000, max_calls=3000, proposal_patience=1, tempering_round_share=1.0)
    training = TrainConfig(**TRAINING)
    states = []
    adaptive_rounds(
        two_mode_problem(2), config, ModelConfig(**{**TINY, "n_modes": 2}), 0, training, on_round=states.append
    )
    assert patiences == [1, 1, TRAINING["patience"]]
    assert [f.facts["stopped_early"] for f in states[-1].fitted][:2] == [True, True]
    assert proposal_training(training, config) == dataclasses.replace(training, patience=1)


def test_the_proposal_flows_train_at_most_their_own_step_budget_and_the_final_flow_the_trainings():
    """adaptive.proposal_max_steps: each flow that only proposes the next round's draws trains at
    most that many steps (its cosine schedule over them); the final flow training.max_steps; 0 and
    a budget above training.max_steps leave training.max_steps."""
    from lwflow.fitting.rounds import adaptive_rounds, proposal_training
    from lwflow.settings import ModelConfig, TrainConfig

    training = TrainConfig(**{**TRAINING, "patience": 100})  # no early stop: the budget decides
    config = AdaptiveConfig(n_per_round=1000, max_calls=3000, proposal_max_steps=30, tempering_round_share=1.0)
    states = []
    adaptive_rounds(
        two_mode_problem(2), config, ModelConfig(**{**TINY, "n_modes": 2}), 0, training, on_round=states.append
    )
    last_steps = [int(f.history["step"].iloc[-1]) for f in states[-1].fitted]
    assert last_steps == [30, 30, TRAINING["max_steps"]]
    assert proposal_training(training, config).max_steps == 30
    for budget in (0, TRAINING["max_steps"] + 1):
        uncapped = dataclasses.replace(config, proposal_max_steps=budget)
        assert proposal_training(training, uncapped).max_steps == TRAINING["max_steps"]


def test_a_round_that_should_be_the_last_is_sized_to_what_the_evidence_draws_lack():
    """Once beta is 1 and the last round's own ESS fraction is enough, the next round draws
    1.1 x the missing ESS over that fraction, in hundreds, between a quarter round and a round;
    before that, whole rounds; the record carries it and the next round draws that many."""
    config = AdaptiveConfig(n_per_round=4000, final_ess=5000.0, final_ess_fraction=0.5)
    assert next_round_size(config, 1.0, 0.781, 3124.0) == 2700  # 1.1 x 1876 / 0.781 = 2642
    assert next_round_size(config, 1.0, 0.9, 4950.0) == 1000  # a quarter round at least
    assert next_round_size(config, 1.0, 0.6, 100.0) == 4000  # never more than a round
    assert next_round_size(config, 0.7, 0.9, 4000.0) == 2000  # still tempering: tempering_round_share 0.5
    assert next_round_size(config, 1.0, 0.3, 4000.0) == 4000  # the proposal is not good enough yet
    whole = AdaptiveConfig(n_per_round=4000, tempering_round_share=1.0)
    assert round_size(whole, None) == 4000 and round_size(whole, {"next": "train", "next_n": 2700}) == 2700
    assert round_size(whole, {"next": "train"}) == 4000  # a record written before rounds were sized


def test_rounds_drawn_while_beta_is_below_one_take_the_tempering_share():
    """adaptive.tempering_round_share: round 0 and every round that follows a round with
    beta < 1 draw that share of n_per_round (rounded up); rounds at beta = 1 a whole round; the
    library's rounds draw what their records say."""
    from lwflow.fitting.rounds import adaptive_rounds, tempering_round_size
    from lwflow.settings import ModelConfig, TrainConfig

    config = AdaptiveConfig(n_per_round=1000, max_calls=4000, tempering_round_share=0.45)
    assert tempering_round_size(1000, 0.45) == 450 and tempering_round_size(999, 0.5) == 500
    assert next_round_size(config, 0.7, 0.9, 4000.0) == 450 and next_round_size(config, 1.0, 0.3, 0.0) == 1000
    assert round_size(config, None) == 450
    states = []
    adaptive_rounds(
        two_mode_problem(2), config, ModelConfig(**{**TINY, "n_modes": 2}), 0, TrainConfig(**TRAINING),
        on_round=states.append,
    )  # fmt: skip
    records = states[-1].records
    betas, sizes = [r["beta"] for r in records], [r["n"] for r in records]
    assert betas[0] < 1 and sizes[0] == 450
    for before, after in zip(records, records[1:]):
        assert after["n"] == (450 if before["beta"] < 1 else before.get("next_n", 1000))
