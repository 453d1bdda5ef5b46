"""Choosing the number of base modes from weighted samples (base_modes: auto)."""

import numpy as np
import pytest

from lwflow.density_modes import density_maxima, separated_mode_count
from lwflow.fitting.modes import select_n_modes


def separated_mixture(centres: np.ndarray, n_per_mode: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([c + 0.5 * rng.standard_normal((n_per_mode, centres.shape[1])) for c in centres])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_modes_in_2d(seed):
    u = separated_mixture(np.array([[-3.0, 3.0], [3.0, 3.0], [0.0, -3.0]]), 3000, seed)
    assert select_n_modes(u, np.ones(len(u)), seed=seed).n_modes == 3


def test_a_scan_stopped_past_the_lowest_bic_chooses_and_fits_as_the_full_scan():
    """bic_patience 2: the mixtures stop two K past the lowest BIC (5 of 6 fitted for three
    modes), and the choice, its BIC and the fit are the full scan's."""
    u = separated_mixture(np.array([[-3.0, 3.0], [3.0, 3.0], [0.0, -3.0]]), 3000, 0)
    full = select_n_modes(u, np.ones(len(u)), seed=0)
    stopped = select_n_modes(u, np.ones(len(u)), seed=0, bic_patience=2)
    assert full.bic_best_k == 3 and list(stopped.bic) == [1, 2, 3, 4, 5] and list(full.bic) == [1, 2, 3, 4, 5, 6]
    assert {k: full.bic[k] for k in stopped.bic} == stopped.bic
    np.testing.assert_array_equal(stopped.mode_moments().means, full.mode_moments().means)
    assert stopped.n_modes == full.n_modes == 3


@pytest.mark.parametrize("seed", [0, 1])
def test_four_modes_in_5d(seed):
    centres = 4.0 * np.eye(5)[:4]
    u = separated_mixture(centres, 3000, seed)
    assert select_n_modes(u, np.ones(len(u)), seed=seed).n_modes == 4


def test_weights_not_just_points_decide():
    """Uniform points on a box, weighted by a two-mode likelihood: two modes."""
    rng = np.random.default_rng(0)
    u = rng.uniform(-6, 6, size=(100_000, 2))
    weights = np.exp(-0.5 * ((u - [-3, 0]) ** 2).sum(1) / 0.25) + np.exp(-0.5 * ((u - [3, 0]) ** 2).sum(1) / 0.25)
    assert select_n_modes(u, weights, seed=0).n_modes == 2


def test_a_curved_banana_is_one_mode_even_when_bic_splits_it():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((20_000, 2))
    banana = np.column_stack([2.0 * z[:, 0], 0.4 * z[:, 1] + 0.5 * (2.0 * z[:, 0]) ** 2 / 2 - 1.0])
    selection = select_n_modes(banana, np.ones(len(banana)), seed=0)
    assert selection.bic_best_k > 1  # a Gaussian mixture needs several components for the curve
    assert selection.n_modes == 1


def test_mode_moments_merge_each_modes_components_into_one_gaussian():
    """Three separated modes: one Gaussian each at its centre (share 1/3, covariance 0.25 I),
    mapped back from standardised coordinates.  A banana that BIC splits: one Gaussian with
    the sample's own mean and covariance (moment matching keeps the first two moments)."""
    centres = np.array([[-4.0, 4.0], [4.0, 4.0], [0.0, -4.0]])
    x = separated_mixture(centres, 4000, seed=0)
    shift, scale = x.mean(0), x.std(0)
    moments = select_n_modes((x - shift) / scale, np.ones(len(x)), seed=0).mode_moments(shift, scale)
    order = np.argsort(moments.means[:, 0] + 0.1 * moments.means[:, 1])
    assert np.allclose(moments.means[order], centres[[0, 2, 1]], atol=0.05)
    assert np.allclose(moments.shares, 1 / 3, atol=0.02)
    assert np.allclose(moments.covariances, 0.25 * np.eye(2), atol=0.03)

    rng = np.random.default_rng(1)
    z = rng.standard_normal((20_000, 2))
    banana = np.column_stack([2.0 * z[:, 0], 0.4 * z[:, 1] + 0.5 * (2.0 * z[:, 0]) ** 2 / 2 - 1.0])
    selection = select_n_modes(banana, np.ones(len(banana)), seed=0)
    assert selection.bic_best_k > 1 and selection.n_modes == 1
    one = selection.mode_moments()
    assert one.shares == pytest.approx([1.0])
    assert np.allclose(one.means[0], banana.mean(0), atol=0.1)
    assert np.allclose(one.covariances[0], np.cov(banana.T), rtol=0.1, atol=0.1)


def test_the_chosen_number_feeds_training(tmp_path):
    """train.train with n_modes 'auto' records the choice and builds a base with that many modes."""
    from lwflow.artefacts import Provenance, read_json, write_npz
    from lwflow.models.flows import load_checkpoint
    from lwflow.settings import ModelConfig, ModeSelectionConfig, TrainConfig
    from lwflow.stages import train
    from lwflow.stages.settings import ModelSettings

    rng = np.random.default_rng(0)
    theta = rng.uniform(-6, 6, size=(40_000, 2))
    weights = sum(np.exp(-0.5 * ((theta - c) ** 2).sum(1) / 0.25) for c in ([-3, 3], [3, 3], [0, -3]))
    write_npz(tmp_path / "prior.npz", {"theta": theta}, Provenance("test", [], {}))
    write_npz(tmp_path / "weights.npz", {"weights": weights}, Provenance("test", [], {}))
    outputs = {n: tmp_path / f"{n}{e}" for n, e in [("model", ".pt"), ("loss", ".csv"), ("modes", ".json")]}
    flow = {"arch": "realnvp", "n_modes": "auto", "n_layers": 2, "hidden_units": 16}
    spec = {"kind": "gaussian_mixture", "bounds": [-6, 6], "means": [[0, 0]], "covariances": [np.eye(2).tolist()]}
    training, selection = TrainConfig(max_steps=20, eval_every=10), ModeSelectionConfig(k_max=5)
    settings = ModelSettings(spec, ModelConfig(**flow), training, mode_selection=selection)
    provenance = Provenance("test", [], {})
    train.train("box", settings, tmp_path / "prior.npz", tmp_path / "weights.npz", 0, outputs, provenance)
    record = read_json(outputs["modes"])
    assert record["rule"] == "auto" and record["n_modes"] == 3 and len(record["bic"]) == 5
    assert len(record["means"]) == record["bic_best_k"]  # the fit the base starts from
    assert load_checkpoint(outputs["model"]).model.flow.q0.n_modes == 3  # truncated to the prior box


def test_the_base_starts_from_the_mode_moments():
    """initial_base maps the moments to standardised coordinates; without them, k-means."""
    from lwflow.fitting.modes import ModeMoments
    from lwflow.fitting.train import initial_base

    moments = ModeMoments(np.array([0.25, 0.75]), np.array([[-3.0, 3.0], [3.0, 3.0]]), np.stack([np.eye(2) * 4] * 2))
    shift, scale = np.array([0.0, 3.0]), np.array([3.0, 2.0])
    u = np.random.default_rng(0).standard_normal((500, 2))
    base = initial_base(u, np.ones(500), 2, 0, shift, scale, moments)
    assert np.allclose(base.loc, [[-1.0, 0.0], [1.0, 0.0]])
    assert np.allclose(base.scale, [[2 / 3, 1.0], [2 / 3, 1.0]]) and np.allclose(base.weights, [0.25, 0.75])
    with pytest.raises(ValueError, match="2 mode moments given for a base of 3 modes"):
        initial_base(u, np.ones(500), 3, 0, shift, scale, moments)


def test_density_maxima_counts_modes_not_components():
    """Two Gaussians 4 sd apart are two modes; 1 sd apart they merge into one (the density
    is unimodal below 2 sd for equal weights and variances); a crossing pair (same mean) is one."""
    eye = np.eye(2)
    assert len(density_maxima([1, 1], [[-2.0, 0], [2.0, 0]], [eye, eye])) == 2
    assert len(density_maxima([1, 1], [[-0.5, 0], [0.5, 0]], [eye, eye])) == 1
    crossing = [[[2.0, 1.8], [1.8, 2.0]], [[2.0, -1.8], [-1.8, 2.0]]]
    maxima = density_maxima([1, 1], [[0.0, 0], [0.0, 0]], crossing)
    assert len(maxima) == 1 and np.allclose(maxima[0], 0, atol=1e-8)


def test_separated_mode_count_groups_maxima_without_a_deep_valley():
    """Equal unit Gaussians 4 sd apart: the density at the midpoint is 2 exp(-2) / (1 + exp(-8))
    = 0.27 of a peak, a deep valley, so two modes.  2.6 sd apart the density is still bimodal
    (two maxima) but dips only to 0.83 of a peak: one mode for the base."""
    from lwflow.problems import GaussianMixture

    def modes(half_distance: float, **valley) -> int:
        pair = GaussianMixture(
            np.array([[-half_distance, 0], [half_distance, 0]]), np.stack([np.eye(2)] * 2), np.ones(2)
        )
        maxima = density_maxima(pair.weights, pair.means, pair.covariances)
        return separated_mode_count(maxima, pair.log_prob, **valley)

    eye = np.eye(2)
    assert modes(2.0) == 2
    assert len(density_maxima([1, 1], [[-1.3, 0], [1.3, 0]], [eye, eye])) == 2
    assert modes(1.3) == 1
    assert modes(1.3, valley_ratio=0.9) == 2


def test_problem_true_modes_are_separated_density_maxima():
    """Paper B's 'five-mode' target has five components, three density maxima, and dips of
    only 10-19 % between them: one separated mode."""
    from lwflow.problems import gaussian_mixture_problem

    means = [[-0.5, -1.0], [0.5, 1.0], [2.0, 2.5], [0.5, -1.0], [-0.5, 1.0]]
    covariances = [v * np.eye(2) for v in (0.71, 0.31, 1.01, 0.71, 0.31)]
    five = gaussian_mixture_problem("five", (-6, 7), means, covariances)
    assert (five.n_density_maxima, five.n_modes) == (3, 1)
    three = gaussian_mixture_problem("three", (-12, 12), [[-6, 6], [6, 6], [0, -6]], [np.eye(2)] * 3)
    assert (three.n_density_maxima, three.n_modes) == (3, 3)
