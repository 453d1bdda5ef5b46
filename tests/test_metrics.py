"""Metrics against closed forms; floors shrink with the sample size."""

import numpy as np
import pytest

from lwflow.evaluation.metrics import (
    average_marginal_w1,
    bridge_mass,
    component_masses,
    hole_mass,
    kl_divergence,
    log_density_maximum,
    projection_directions,
    sliced_w1,
)
from lwflow.problems import GaussianMixture


def test_w1_of_a_shift_is_the_shift():
    x = np.random.default_rng(0).standard_normal((5000, 3))
    shift = np.array([0.5, -1.0, 2.0])
    assert average_marginal_w1(x, x + shift) == pytest.approx(np.abs(shift).mean())


def test_sliced_w1_of_a_shift_is_the_mean_projected_shift():
    x = np.random.default_rng(0).standard_normal((5000, 2))
    shift = np.array([1.0, -2.0])
    directions = projection_directions(2, 100, seed=3)
    expected = np.abs(directions @ shift).mean()
    assert sliced_w1(x, x + shift, n_projections=100, seed=3) == pytest.approx(expected)
    # and, over many directions, the isotropic average 2|shift|/pi
    assert sliced_w1(x[:1000], x[:1000] + shift, n_projections=4000, seed=3) == pytest.approx(
        2 * np.linalg.norm(shift) / np.pi, rel=0.03
    )


def test_equal_and_unequal_sample_sizes_agree():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((3000, 2)), rng.standard_normal((3000, 2)) + 0.3
    fast = average_marginal_w1(x, y)
    general = average_marginal_w1(x, np.concatenate([y, y]))  # same empirical law, twice the points
    assert fast == pytest.approx(general, rel=1e-9)


def test_kl_matches_gaussian_closed_form():
    rng = np.random.default_rng(0)
    mu, sigma, dim = 0.7, 1.5, 2
    x = rng.standard_normal((200_000, dim))
    log_p = -0.5 * (x**2).sum(1) - dim / 2 * np.log(2 * np.pi)
    log_q = -0.5 * (((x - mu) / sigma) ** 2).sum(1) - dim * np.log(sigma) - dim / 2 * np.log(2 * np.pi)
    closed = dim * (np.log(sigma) + (1 + mu**2) / (2 * sigma**2) - 0.5)
    estimate, standard_error = kl_divergence(log_p, log_q)
    assert abs(estimate - closed) < 4 * standard_error
    assert standard_error < 0.01


def test_floor_shrinks_with_sample_size():
    rng = np.random.default_rng(1)

    def floor(n):
        return np.mean(
            [average_marginal_w1(rng.standard_normal((n, 2)), rng.standard_normal((n, 2))) for _ in range(5)]
        )

    small, large = floor(500), floor(20_000)
    assert large < small / 4  # ~ 1/sqrt(n): a factor ~6 expected


def test_bridge_mass_of_a_gaussian_is_the_chi_square_tail():
    """For N(0, I) in 2D, p < f max p  <=>  r^2 > -2 log f, which has probability f."""
    x = np.random.default_rng(2).standard_normal((400_000, 2))
    log_p = -0.5 * (x**2).sum(1)
    assert bridge_mass(log_p, 0.0, 0.01) == pytest.approx(0.01, rel=0.05)


def test_bridge_mass_counts_mass_between_modes():
    mixture = GaussianMixture(np.array([[-5.0, 0.0], [5.0, 0.0]]), np.array([np.eye(2)] * 2), np.ones(2))
    bridge = np.column_stack([np.linspace(-1, 1, 100), np.zeros(100)])  # p < 4e-4 max p there
    on_modes = mixture.sample(100, np.random.default_rng(0))
    log_p_max = log_density_maximum(mixture.log_prob, on_modes)
    q_samples = np.concatenate([bridge, on_modes])
    assert bridge_mass(mixture.log_prob(q_samples), log_p_max, 1e-3) == pytest.approx(0.5, abs=0.03)


def test_hole_mass_of_a_narrow_model_is_the_gaussian_tail_it_cuts_off():
    """p = N(0, 1), q = N(0, s^2) with s = 1/2: log q - log p = log 2 - 3 x^2 / 2, so
    q < h p  <=>  x^2 > 2 (log 2 - log h) / 3, a chi-square(1) tail."""
    from scipy.stats import chi2

    x = np.random.default_rng(3).standard_normal(400_000)
    log_p = -0.5 * x**2 - 0.5 * np.log(2 * np.pi)
    log_q = -0.5 * (2 * x) ** 2 - 0.5 * np.log(2 * np.pi) + np.log(2)
    h = 1e-3
    expected = chi2(1).sf(2 * (np.log(2) - np.log(h)) / 3)
    assert hole_mass(log_p, log_q, h) == pytest.approx(expected, rel=0.05)
    assert hole_mass(log_p, log_p, h) == 0.0  # the truth has no holes: the floor is 0


def test_hole_mass_counts_a_torn_away_region_that_the_nll_shows_as_one_huge_term():
    log_p = np.full(1000, -2.0)
    log_q = log_p.copy()
    log_q[:3] = [-1e9, -50.0, -2.0 + np.log(0.01)]  # torn, torn, only 100x too low
    assert hole_mass(log_p, log_q, 1e-3) == pytest.approx(2 / 1000)


def test_density_maximum_is_found():
    mixture = GaussianMixture(np.array([[-5.0, 0.0], [5.0, 0.0]]), np.array([np.eye(2)] * 2), np.ones(2))
    samples = mixture.sample(500, np.random.default_rng(0))
    expected = np.log(0.5) - np.log(2 * np.pi)
    assert log_density_maximum(mixture.log_prob, samples) == pytest.approx(expected, abs=1e-6)


def test_component_masses_recover_the_mixture_shares():
    means = np.array([[-6.0, 0.0], [6.0, 0.0], [0.0, 8.0]])
    mixture = GaussianMixture(means, np.stack([np.eye(2)] * 3), np.array([0.5, 0.3, 0.2]))
    components = (mixture.weights, mixture.means, mixture.covariances)
    samples = mixture.sample(20000, np.random.default_rng(0))
    np.testing.assert_allclose(component_masses(samples, *components), [0.5, 0.3, 0.2], atol=0.01)
    one_mode = samples[np.linalg.norm(samples - means[0], axis=1) < 3]  # a sampler stuck in mode 0
    np.testing.assert_array_equal(component_masses(one_mode, *components), [1, 0, 0])
