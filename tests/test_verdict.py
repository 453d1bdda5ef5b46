"""Every fit's check against the likelihood and its verdict (lwflow.fitting.verdict): quiet when
the answer is right, loud when it is wrong, and importance-corrected draws as the remedy."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import lwflow
from lwflow.fitting.verdict import check_posterior, correction_shift, importance_sample, judge
from lwflow.settings import CheckConfig, RefineConfig

FAST = {"max_steps": 400, "eval_every": 50, "batch_size": 512}
SMALL = {"arch": "realnvp", "n_modes": 1, "n_layers": 4, "hidden_units": 32}
TINY = {"max_steps": 40, "eval_every": 20, "batch_size": 256}


def gaussian_problem(centre: float = 0.0) -> lwflow.Problem:
    """A Gaussian posterior (sd 0.5) well inside a box: a K = 1 base fits it exactly."""
    return lwflow.Problem(
        "gauss", lwflow.UniformBox([-5, -5], [5, 5]), lambda t: -0.5 * ((t - centre) ** 2).sum(1) / 0.25
    )


def test_the_readme_example_is_trusted_without_a_warning_and_its_corrected_draws_carry_their_ess():
    """Trusted because the base refinement (lwflow.fitting.refine) puts the wells' masses at
    0.495-0.505 on seeds 0-4 (0.482-0.526 before it, a shift of 0.024-0.044: reweight)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert len(example.strip().splitlines()) <= 6  # the import and five lines
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(example, namespace)
    posterior = namespace["posterior"]
    assert isinstance(posterior, lwflow.Posterior) and namespace["theta"].shape == (10_000, 2)
    assert posterior.verdict == "trusted", posterior.check
    assert posterior.diagnostics["refinement"]["applied"]
    assert abs(posterior.check.log_evidence - posterior.log_evidence) < 0.05
    assert "verdict:" in repr(posterior.summary())
    sample = posterior.importance_sample(4000, seed=1)
    assert 0.8 * 3600 < sample.ess <= 4000
    assert posterior.sample(500, seed=1, corrected=True).shape == (500, 2)


def test_a_gaussian_that_a_one_mode_base_fits_exactly_is_trusted_without_a_warning():
    """Exactly up to the prior draws' ESS: 1 000 000 of them (an ESS of 31 000) leave the weighted
    moments 0.006 sd off; 100 000 left a shift of 0.015 sd, above the trusted threshold."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        posterior = lwflow.fit(gaussian_problem(), n_prior_samples=1_000_000, model=SMALL, training=FAST)
    check = posterior.check
    assert check.verdict == "trusted", check
    assert check.pareto_k < 0.7 and check.ess_fraction > 0.85 and check.shift < 0.01
    calls = 1_000_000 + RefineConfig().n_draws + CheckConfig().n_draws
    assert posterior.diagnostics["n_likelihood_calls"] == calls
    assert check.warning is None and posterior.summary().attrs["verdict"] == "trusted"


def two_narrow_modes(dim: int) -> lwflow.Problem:
    centres = np.zeros((2, dim))
    centres[:, 0] = [-3, 3]

    def log_likelihood(t):
        return np.logaddexp(*(-0.5 * ((t - c) ** 2).sum(1) / 0.2**2 for c in centres))

    return lwflow.Problem(f"narrow{dim}", lwflow.UniformBox(-6 * np.ones(dim), 6 * np.ones(dim)), log_likelihood)


@pytest.mark.parametrize("dim", [4, 50])
def test_an_adaptive_fit_stopped_by_its_budget_is_not_trusted_and_warns_which_budget(dim):
    model = {"arch": "realnvp", "n_modes": 1, "n_layers": 2, "hidden_units": 16}
    with pytest.warns(UserWarning, match="not trusted.*raise adaptive max_calls"):
        posterior = lwflow.fit(
            two_narrow_modes(dim), proposal="adaptive", model=model, training=TINY,
            adaptive={"max_calls": 400, "n_per_round": 400},  # tempering rounds of 200 draws
        )  # fmt: skip
    check = posterior.check
    assert check.verdict == "not trusted" and check.stop == "budget" and check.beta < 1
    assert "verdict: not trusted" in repr(posterior.summary())
    assert posterior.diagnostics["n_likelihood_calls"] == 400 + CheckConfig().n_draws  # no refinement below beta 1
    assert "beta" in posterior.diagnostics["refinement"]["reason"]


def test_the_prior_share_of_the_check_draws_exposes_a_mode_the_flow_misses():
    """A flow of one mode, checked against a posterior with a second mode (prior mass 1.6 %) that
    it misses: the check's prior draws land in that mode, and their weights give it away; without
    them (a share of 1 draw in 2000) nothing does."""
    posterior = lwflow.fit(gaussian_problem(-2.5), n_prior_samples=40_000, model=SMALL, training=FAST)

    def log_likelihood(t):
        return np.logaddexp(*(-0.5 * ((t - c) ** 2).sum(1) / 0.25 for c in (-2.5, 2.5)))

    two_modes = lwflow.Problem("two", lwflow.UniformBox([-5, -5], [5, 5]), log_likelihood)
    rng = np.random.default_rng(0)
    guarded = check_posterior(posterior.model, two_modes, CheckConfig(), rng)
    assert guarded.verdict == "not trusted" and guarded.pareto_k > 0.7 and guarded.ess_fraction < 0.3
    blind = judge(importance_sample(posterior.model, two_modes, 2000, 0.0005, rng).numbers())
    assert blind.verdict != "not trusted"  # the flow's own draws cannot see the mode it misses
    # the evidence from draws that cover both modes (the fit's own) disagrees: a second guard
    evidence = lwflow.fit(two_modes, n_prior_samples=40_000, model=SMALL, training=FAST).log_evidence
    assert abs(blind.log_evidence - evidence - np.log(0.5)) < 0.05


def test_corrected_draws_fix_a_density_that_is_off_and_need_the_likelihood(tmp_path):
    """A flow fitted to a Gaussian at 0, corrected against one at 0.3: the corrected draws move to
    0.3 and the shift says by how much; a loaded posterior needs its problem for them."""
    posterior = lwflow.fit(gaussian_problem(0.0), n_prior_samples=40_000, model=SMALL, training=FAST)
    sample = posterior.importance_sample(20_000, seed=2, problem=gaussian_problem(0.3))
    corrected = sample.resample(10_000, seed=3)
    assert np.allclose(corrected.mean(0), 0.3, atol=0.03)
    assert 0.4 < sample.shift < 0.8  # 0.3 / 0.5 sd along each axis
    posterior.save(tmp_path / "p.pt")
    loaded = lwflow.load_posterior(tmp_path / "p.pt")
    assert loaded.check == posterior.check
    with pytest.raises(ValueError, match="need the likelihood"):
        loaded.sample(10, corrected=True)
    again = lwflow.load_posterior(tmp_path / "p.pt", problem=gaussian_problem(0.0))
    assert again.sample(10, corrected=True).shape == (10, 2)
    with pytest.raises(ValueError, match="positive integer"):
        again.sample(0)


def test_the_shift_is_zero_for_equal_weights_and_the_moved_distance_otherwise():
    theta = np.random.default_rng(0).standard_normal((20_000, 2))
    assert correction_shift(theta, np.zeros(len(theta))) < 1e-12
    log_w = 0.5 * theta[:, 0] - 0.125  # N(0, 1) reweighted to N(0.5, 1): moves axis 0 by 0.5 sd
    assert 0.15 < correction_shift(theta, log_w) < 0.45
