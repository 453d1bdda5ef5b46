"""Paper A, Table 2 on one seed with the default configuration (slow: select with -m slow)."""

import numpy as np
import pytest

from lwflow.evaluation.metrics import bridge_mass, kl_divergence, log_density_maximum
from lwflow.fitting.train import train_flow
from lwflow.fitting.weights import weights_from_log_likelihood
from lwflow.models.flows import FlowArchitecture
from lwflow.reproduction.paper_a import TABLES
from lwflow.settings import TrainConfig


@pytest.mark.slow
def test_three_mode_base_beats_the_paper_and_one_mode_base_bridges(default_config, default_problems):
    problem = default_problems["gmm2d_3mode"]
    spec = default_config["problems"]["gmm2d_3mode"]
    theta = problem.prior.sample(spec["n_prior_samples"], np.random.default_rng(0))
    weights = weights_from_log_likelihood(problem.log_likelihood(theta))
    reference = problem.truth.sample(50_000, np.random.default_rng(1))
    log_p_max = log_density_maximum(problem.truth.log_prob, reference)
    results = {}
    for modes in (1, 3):
        sizes = {key: default_config["flow"][key] for key in ("n_layers", "hidden_units")}
        flow = FlowArchitecture(arch="realnvp", n_modes=modes, **sizes)
        model = train_flow(theta, weights, flow, TrainConfig(**default_config["training"]), seed=0).model
        log_q, samples = model.log_prob(reference), model.sample(50_000, seed=0)
        kl, _ = kl_divergence(problem.truth.log_prob(reference), log_q)
        results[modes] = (kl, bridge_mass(problem.truth.log_prob(samples), log_p_max, 1e-3))
    published = {row.modes: row.published["kl"] for row in TABLES["paper_a_table2"]}
    assert results[3][0] < published[3]
    assert results[1][0] < published[1]
    assert results[3][1] < results[1][1]
