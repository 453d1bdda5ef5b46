"""The trainer fits a known posterior from weighted prior samples; checkpoints round-trip."""

import math

import numpy as np
import pytest
import torch

from lwflow.evaluation.metrics import kl_divergence
from lwflow.fitting.train import GPU_MIN_BATCH, choose_device, train_flow
from lwflow.fitting.weights import weights_from_log_likelihood
from lwflow.models.flows import FlowArchitecture, init_mixture_base, load_checkpoint, save_checkpoint
from lwflow.problems import gaussian_mixture_problem
from lwflow.settings import TrainConfig

SMALL_FLOW = FlowArchitecture(arch="realnvp", n_modes=1, n_layers=4, hidden_units=32)
QUICK = TrainConfig(batch_size=256, max_steps=600, eval_every=50, patience=100)


@pytest.fixture(scope="module")
def gaussian_fit():
    problem = gaussian_mixture_problem("g", (-12, 12), [[2.0, -3.0]], [[[1.0, 0.6], [0.6, 1.5]]])
    theta = problem.prior.sample(100_000, np.random.default_rng(0))
    weights = weights_from_log_likelihood(problem.log_likelihood(theta))
    return problem, theta, weights, train_flow(theta, weights, SMALL_FLOW, QUICK, seed=0)


def model_kl(problem, model, n=20_000):
    x = problem.truth.sample(n, np.random.default_rng(5))
    return kl_divergence(problem.truth.log_prob(x), model.log_prob(x))[0]


def test_trainer_fits_a_2d_gaussian_from_weighted_prior_samples(gaussian_fit):
    problem, _, _, result = gaussian_fit
    assert model_kl(problem, result.model) < 0.02
    assert result.history["val_loss"].iloc[-1] < result.history["val_loss"].iloc[0]
    # the history starts at the initial state (step 0) and marks the one state that was kept
    assert result.history["step"].iloc[0] == 0 and result.history["kept"].sum() == 1
    assert result.history.loc[result.history["kept"], "step"].item() == result.best_step


def test_uniform_batches_fit_too():
    problem = gaussian_mixture_problem("g", (-12, 12), [[2.0, -3.0]], [[[1.0, 0.6], [0.6, 1.5]]])
    theta = problem.prior.sample(50_000, np.random.default_rng(1))
    weights = weights_from_log_likelihood(problem.log_likelihood(theta))
    config = TrainConfig(batch_size=256, max_steps=600, eval_every=50, patience=100, batch_sampling="uniform")
    assert model_kl(problem, train_flow(theta, weights, SMALL_FLOW, config, seed=0).model) < 0.05


def test_same_seed_same_model(gaussian_fit):
    _, theta, weights, first = gaussian_fit
    short = TrainConfig(batch_size=128, max_steps=60, eval_every=20)
    a = train_flow(theta, weights, SMALL_FLOW, short, seed=3).model.state_dict()
    b = train_flow(theta, weights, SMALL_FLOW, short, seed=3).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_round_trip_with_weights_only(gaussian_fit, tmp_path):
    _, _, _, result = gaussian_fit
    save_checkpoint(tmp_path / "model.pt", result.model, SMALL_FLOW)
    loaded = load_checkpoint(tmp_path / "model.pt")
    x = np.random.default_rng(0).normal(size=(100, 2)) * 3
    np.testing.assert_array_equal(loaded.log_prob(x), result.model.log_prob(x))


def test_zero_weight_samples_are_dropped():
    theta = np.random.default_rng(0).uniform(-3, 3, size=(2000, 2))
    weights = np.exp(-0.5 * (theta**2).sum(1))
    weights[::2] = 0.0
    theta[::2] = np.nan  # would poison the loss if used
    result = train_flow(theta, weights, SMALL_FLOW, TrainConfig(max_steps=20, eval_every=10), seed=0)
    assert np.isfinite(result.history["val_loss"]).all()


def test_too_few_nonzero_weights_are_named_with_what_to_draw_more_of():
    theta = np.random.default_rng(0).uniform(-3, 3, size=(100, 2))
    weights = np.zeros(100)
    weights[:5] = 1.0
    with pytest.raises(ValueError, match=r"only 5 of 100 draws have nonzero weight.*n_prior_samples.*n_per_round"):
        train_flow(theta, weights, SMALL_FLOW, TrainConfig(max_steps=20, eval_every=10), seed=0)


def test_mixture_base_starts_at_the_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    u = np.concatenate([c + 0.2 * rng.standard_normal((1000, 2)) for c in centres])
    init = init_mixture_base(u, np.ones(len(u)), n_modes=3, seed=0)
    found = init.loc[np.argsort(init.loc[:, 0] + 10 * init.loc[:, 1])]
    np.testing.assert_allclose(found, centres[np.argsort(centres[:, 0] + 10 * centres[:, 1])], atol=0.05)
    np.testing.assert_allclose(init.weights, [1 / 3] * 3, atol=0.01)
    assert math.isclose(init.scale.mean(), 0.2, abs_tol=0.03)


def test_bad_spec_is_rejected():
    with pytest.raises(ValueError, match="base modes"):
        FlowArchitecture(arch="realnvp", n_modes=0, n_layers=2, hidden_units=8)
    with pytest.raises(ValueError, match="unknown architecture"):
        FlowArchitecture(arch="glow", n_modes=1, n_layers=2, hidden_units=8)


def test_device_auto_takes_a_gpu_only_for_large_batches_and_says_why(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device, why = choose_device("auto", 10**6)
    assert device == torch.device("cpu") and "sees no GPU" in why
    with pytest.raises(ValueError, match="sees no GPU: request one"):
        choose_device("cuda", 1024)
    with pytest.raises(ValueError, match="training.device = 'tpu'"):
        TrainConfig(device="tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    device, why = choose_device("auto", GPU_MIN_BATCH - 1)
    assert device == torch.device("cpu") and f"below {GPU_MIN_BATCH}" in why
    assert choose_device("auto", GPU_MIN_BATCH)[0] == torch.device("cuda")
    assert choose_device("cpu", 10**6) == (torch.device("cpu"), "training.device is 'cpu'")


def test_full_batches_fit_and_ignore_batch_size(gaussian_fit):
    """``full``: every step the whole training share, so no minibatch draw and no batch size."""
    problem = gaussian_fit[0]
    theta = problem.truth.sample(5000, np.random.default_rng(2))
    full = {"max_steps": 300, "eval_every": 50, "patience": 100, "learning_rate": 1e-2, "batch_sampling": "full"}
    a = train_flow(theta, np.ones(len(theta)), SMALL_FLOW, TrainConfig(**full, batch_size=7), seed=2)
    b = train_flow(theta, np.ones(len(theta)), SMALL_FLOW, TrainConfig(**full, batch_size=4096), seed=2)
    state_a, state_b = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert model_kl(problem, a.model) < 0.05
    assert a.device == "cpu" and "training.device" in a.device_reason


def test_device_auto_on_the_cpu_trains_the_same_model_as_device_cpu(gaussian_fit, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _, theta, weights, _ = gaussian_fit
    short = {"batch_size": 128, "max_steps": 60, "eval_every": 20}
    a = train_flow(theta, weights, SMALL_FLOW, TrainConfig(**short, device="auto"), seed=3).model.state_dict()
    b = train_flow(theta, weights, SMALL_FLOW, TrainConfig(**short, device="cpu"), seed=3).model.state_dict()
    assert all(a[k].device.type == "cpu" and torch.equal(a[k], b[k]) for k in a)
