"""ESS, clipping and likelihood checks on hand-computed cases."""

import numpy as np
import pytest

from lwflow.fitting.weights import (
    ClipReport,
    LikelihoodError,
    WeightsError,
    clip_weights,
    training_weights,
    weights_from_log_likelihood,
)
from lwflow.settings import ClippingConfig
from lwflow.weighted_draws import effective_sample_size, heaviest_share, max_weight_share


def test_ess_hand_cases():
    assert effective_sample_size(np.ones(4)) == pytest.approx(4)
    assert effective_sample_size(np.array([1.0, 0, 0, 0])) == pytest.approx(1)
    assert effective_sample_size(np.array([2.0, 1.0, 1.0])) == pytest.approx(16 / 6)
    assert max_weight_share(np.array([2.0, 1.0, 1.0])) == pytest.approx(0.5)


def test_weights_are_shifted_exponentials_and_minus_inf_is_zero():
    w = weights_from_log_likelihood(np.array([0.0, np.log(0.5), -np.inf]))
    np.testing.assert_allclose(w, [1.0, 0.5, 0.0])
    assert np.all(np.isfinite(weights_from_log_likelihood(np.array([-1e4, -1e4 + 1]))))


def test_quantile_clipping():
    w = np.arange(1.0, 11.0)
    np.testing.assert_allclose(clip_weights(w, "quantile", 0.5), np.minimum(w, 5.5))


def test_max_share_clipping_reaches_its_share():
    w = np.array([10.0, 1, 1, 1, 1])
    clipped = clip_weights(w, "max_share", 0.5)
    np.testing.assert_allclose(clipped, [4.0, 1, 1, 1, 1])
    assert max_weight_share(clipped) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    heavy = rng.pareto(0.8, size=1000)
    assert max_weight_share(clip_weights(heavy, "max_share", 0.01)) == pytest.approx(0.01)


def test_the_ess_floor_holds_before_clipping_too():
    """max_share at 0.01 lifts an ESS of 53 to 328, past min_ess = 100: the gate before clipping stops it."""
    from lwflow.fitting.weights import WeightsError, training_weights
    from lwflow.settings import ClippingConfig

    log_likelihood = np.log(np.concatenate([np.ones(30), np.full(10_000, 1e-3)]))
    weights = np.exp(log_likelihood)
    report = ClipReport.between(weights, clip_weights(weights, "max_share", 0.01), "max_share", 0.01)
    assert report.ess_before == pytest.approx(40**2 / 30.01) and report.ess_after > 300
    with pytest.raises(WeightsError, match=r"effective sample size 53.3 before clipping .*proposal: adaptive"):
        training_weights(log_likelihood, ClippingConfig())
    training_weights(log_likelihood, ClippingConfig(min_ess=50))  # both gates hold


def test_max_share_leaves_already_flat_weights_alone():
    w = np.ones(200)
    np.testing.assert_array_equal(clip_weights(w, "max_share", 0.01), w)


def test_clip_report_records_ess_before_and_after():
    w = np.array([10.0, 1, 1, 1, 1])
    report = ClipReport.between(w, clip_weights(w, "max_share", 0.5), "max_share", 0.5)
    assert report.ess_before == pytest.approx(14**2 / 104)
    assert report.ess_after == pytest.approx(8**2 / 20)
    assert report.n_clipped == 1 and report.max_share_after == pytest.approx(0.5)


@pytest.mark.parametrize("strategy, threshold", [("quantile", 0.0), ("max_share", 1.5), ("bogus", 0.5)])
def test_bad_clipping_settings_are_rejected(strategy, threshold):
    with pytest.raises(ValueError):
        clip_weights(np.ones(3), strategy, threshold)


@pytest.mark.parametrize(
    "values, message",
    [
        (np.array([0.0, np.nan, np.nan]), "NaN for 2 of 3"),
        (np.array([0.0, np.inf]), r"\+inf for 1 of 2"),
        (np.full(4, -np.inf), "-inf for all 4"),
        (np.zeros((3, 2)), "shape"),
    ],
)
def test_bad_likelihood_values_say_what_to_change(values, message):
    with pytest.raises(LikelihoodError, match=message):
        weights_from_log_likelihood(values)


def test_complex_likelihood_values_are_refused_not_cut_to_their_real_part():
    with pytest.raises(LikelihoodError, match="complex values; return real floats"):
        weights_from_log_likelihood(np.array([0.0 + 1j, -1.0]))


def test_max_share_with_too_few_nonzero_weights_stops_instead_of_zeroing_them():
    """50 nonzero weights cannot each hold at most 1 % of the total: refused, not all set to 0."""
    w = np.zeros(1000)
    w[:50] = 1.0
    with pytest.raises(ValueError, match="cannot be met by 50 nonzero weights .* 1/threshold = 100"):
        clip_weights(w, "max_share", 0.01)


def test_wrong_number_of_likelihood_values():
    with pytest.raises(LikelihoodError, match="expected"):
        weights_from_log_likelihood(np.zeros(3), n_samples=4)


def test_heaviest_share_keeps_the_fewest_heaviest_indices_that_carry_all_but_the_tail():
    weights = np.array([1e-9, 0.5, 1e-8, 0.3, 0.2, 1e-16])
    assert heaviest_share(weights, np.arange(6), tail=1e-6).tolist() == [1, 3, 4]  # dropped: 1.1e-8 of 1
    assert heaviest_share(weights, np.array([0, 2, 5]), tail=1e-6).tolist() == [2, 0]  # of 1.1e-8: 1e-16 goes
    assert sorted(heaviest_share(np.ones(1000), np.arange(1000)).tolist()) == list(range(1000))


def test_clipping_that_flattens_the_posterior_stops_with_advice():
    rng = np.random.default_rng(0)
    theta = rng.uniform(-12, 12, (400_000, 2))
    log_likelihood = -0.5 * (theta**2).sum(1)  # a unit Gaussian posterior under a flat prior on [-12, 12]^2
    with pytest.raises(WeightsError, match="raised the effective sample size from .* flatten the posterior"):
        training_weights(log_likelihood, ClippingConfig("quantile", 0.01))
    with pytest.raises(WeightsError, match="set every weight to 0"):
        training_weights(-50 * (theta**2).sum(1), ClippingConfig("quantile", 0.01))
    clipped, report = training_weights(log_likelihood, ClippingConfig("max_share", 0.01))
    assert report.ess_after <= 10 * report.ess_before
