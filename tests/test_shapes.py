"""Paper B's 2D targets: normalised densities, exact samplers, box masses."""

import numpy as np
import pytest

from lwflow.problems.shapes import Banana, Rings, TwoMoons

BOXES = {
    "banana": ([-9.0, -5.0], [9.0, 25.0]),
    "x_shape": ([-8.0, -8.0], [8.0, 8.0]),
    "bimodal": ([-6.0, -6.0], [6.0, 6.0]),
    "five_mode": ([-6.0, -6.0], [7.0, 7.0]),
    "two_moons": ([-2.0, -1.5], [3.0, 2.0]),
    "rings": ([-3.5, -3.5], [3.5, 3.5]),
}


def _grid_integral(log_prob, low, high, n=900):
    """Midpoint rule on an n x n grid (cell centres never hit the rings' origin)."""
    xs = [lo + (np.arange(n) + 0.5) * (hi - lo) / n for lo, hi in zip(low, high)]
    gx, gy = np.meshgrid(*xs)
    values = np.exp(log_prob(np.column_stack([gx.ravel(), gy.ravel()])))
    return values.sum() * np.prod([(hi - lo) / n for lo, hi in zip(low, high)])


@pytest.mark.parametrize("name", sorted(BOXES))
def test_density_integrates_to_one_and_matches_the_box_mass(default_problems, name):
    truth = default_problems[name].truth
    low, high = BOXES[name]
    assert _grid_integral(truth.log_prob, low, high) == pytest.approx(1.0, abs=2e-3)
    assert np.exp(truth.log_mass) == pytest.approx(1.0, abs=1e-4)  # the boxes hold the targets


@pytest.mark.parametrize("name", sorted(BOXES))
def test_sampler_matches_density(default_problems, name):
    """Mean log-density of exact draws equals -∫ p log p on a grid (the entropy), both ways."""
    truth = default_problems[name].truth
    low, high = BOXES[name]
    draws = truth.sample(40000, np.random.default_rng(0))
    sample_entropy = -truth.log_prob(draws).mean()

    def p_log_p(x):
        log_p = truth.log_prob(x)
        return np.log(np.maximum(-log_p * np.exp(log_p), 1e-300))  # -p log p > 0 where p < 1

    grid_entropy = _grid_integral(p_log_p, low, high)
    assert sample_entropy == pytest.approx(grid_entropy, abs=0.03)


def test_banana_box_mass_against_monte_carlo():
    banana = Banana(2**0.5, 0.25, 1.0)
    low, high = np.array([-2.0, -1.0]), np.array([1.0, 2.0])
    draws = banana.sample(400000, np.random.default_rng(1))
    inside = np.all((draws >= low) & (draws <= high), axis=1).mean()
    assert banana.box_mass(low, high) == pytest.approx(inside, abs=3e-3)


def test_rings_box_mass_against_monte_carlo():
    rings = Rings((1.0, 2.5), 0.1)
    low, high = np.array([-2.0, -3.0]), np.array([1.5, 0.5])
    draws = rings.sample(400000, np.random.default_rng(2))
    inside = np.all((draws >= low) & (draws <= high), axis=1).mean()
    assert rings.box_mass(low, high) == pytest.approx(inside, abs=3e-3)


def test_two_moons_quadrature_has_converged():
    moons, finer = TwoMoons(0.1), TwoMoons(0.1, n_nodes=512)
    x = np.concatenate([moons.sample(500, np.random.default_rng(3)), np.random.default_rng(4).uniform(-2, 3, (500, 2))])
    assert np.abs(moons.log_prob(x) - finer.log_prob(x)).max() < 1e-6
