"""The base mixture refined on fresh draws of the flow or on draws the fit already has
(lwflow.fitting.refine): mode masses, means and scales moved to the posterior's, on and off the
support's faces; no step where the weights are too uneven or there is no mixture base; calls
counted; one seed, one result."""

import copy

import numpy as np
import pytest

import lwflow
from lwflow.fitting.refine import MIN_ESS_FRACTION, refine_base
from lwflow.models.flows import BaseInit
from lwflow.models.support import TruncatedModel
from lwflow.settings import RefineConfig, SettingsError
from lwflow.streams import rng_for, seed_for

MODEL = {"arch": "realnvp", "n_modes": 2, "n_layers": 2, "hidden_units": 16}
NO_TRAINING = {"max_steps": 20, "eval_every": 10, "batch_size": 256}
NO_STEP = {"n_draws": 0}


def two_modes(mass_right: float, centre: float = 3.0, low: float = -6.0) -> lwflow.Problem:
    """Two unit-sd Gaussians at -3 and ``centre`` on axis 0 with masses ``1 - mass_right`` and
    ``mass_right`` (before the box ``[low, 6] x [-6, 6]`` cuts them)."""

    def log_likelihood(t):
        left = np.log1p(-mass_right) - 0.5 * ((t[:, 0] + 3) ** 2 + t[:, 1] ** 2)
        right = np.log(mass_right) - 0.5 * ((t[:, 0] - centre) ** 2 + t[:, 1] ** 2)
        return np.logaddexp(left, right)

    return lwflow.Problem("two", lwflow.UniformBox([low, -6], [6, 6]), log_likelihood)


def fitted_with_base(problem: lwflow.Problem, weights, loc_shift: float = 0.0):
    """A quick fit of ``problem`` (no refinement) whose base is then set off: ``weights``, and the
    means moved by ``loc_shift`` in base coordinates."""
    posterior = lwflow.fit(problem, n_prior_samples=20_000, model=MODEL, training=NO_TRAINING, refine=NO_STEP)
    model = posterior.model
    flow = model.model
    base = flow.base_mixture()
    order = np.argsort(base.loc[:, 0])  # component 0 the left mode
    flow.set_base_mixture(BaseInit(base.loc + loc_shift, base.scale, np.asarray(weights, float)[np.argsort(order)]))
    return TruncatedModel.fit(flow, model.low, model.high, 0), order


def right_mass(model) -> float:
    return float((model.sample(100_000, 5)[:, 0] > 0).mean())


def test_wrong_mode_masses_and_means_are_moved_to_the_posteriors():
    problem = two_modes(0.7)
    model, order = fitted_with_base(problem, [0.5, 0.5], loc_shift=0.1)
    refined, record = refine_base(model, problem, RefineConfig(2000), seed=0)
    assert record["applied"] and record["moments"] and record["n_draws"] == 2000
    assert abs(np.asarray(record["weights_after"])[order][1] - 0.7) < 0.01
    assert abs(right_mass(refined) - 0.7) < 0.01 and abs(right_mass(model) - 0.5) < 0.01  # a copy
    rng = np.random.default_rng(1)
    truth = np.r_[rng.normal([-3, 0], 1, (30_000, 2)), rng.normal([3, 0], 1, (70_000, 2))]
    truth = truth[np.abs(truth).max(1) < 6]  # the box
    assert refined.log_prob(truth).mean() > model.log_prob(truth).mean() + 0.05


def test_draws_the_fit_has_are_the_fresh_step_where_they_are_fresh_draws_and_cost_no_call():
    """Given the very draws the fresh step makes, with the flow as their source (v = 1), the step
    is the fresh one to the last bit; given prior draws (v = q / prior), it moves the masses as
    far, with no likelihood call."""
    problem = two_modes(0.7)
    model, order = fitted_with_base(problem, [0.5, 0.5], loc_shift=0.1)
    fresh, fresh_record = refine_base(model, problem, RefineConfig(2000), seed=0)
    theta = model.sample(2000, seed_for(0, "refine"))
    own = (theta, problem.prior.log_prob(theta) + problem.log_likelihood(theta), model.log_prob(theta))
    same, record = refine_base(model, problem, RefineConfig(2000, source="rounds"), seed=0, draws=own)
    assert (record["n_draws"], record["source"], fresh_record["source"]) == (0, "rounds", "fresh")
    assert record["weights_after"] == fresh_record["weights_after"]
    assert record["ess_fraction"] == pytest.approx(fresh_record["ess_fraction"], rel=1e-12)
    for got, want in zip(vars(same.model.base_mixture()).values(), vars(fresh.model.base_mixture()).values()):
        assert np.array_equal(got, want)
    prior_draws = problem.prior.sample(100_000, rng_for(1, "prior"))
    log_target = problem.prior.log_prob(prior_draws) + problem.log_likelihood(prior_draws)
    pooled, record = refine_base(
        model,
        problem,
        RefineConfig(source="rounds"),
        0,
        draws=(prior_draws, log_target, problem.prior.log_prob(prior_draws)),
    )
    assert record["applied"] and record["n_draws"] == 0 and record["draws"] == 100_000
    assert abs(np.asarray(record["weights_after"])[order][1] - 0.7) < 0.01
    assert abs(right_mass(pooled) - 0.7) < 0.01
    fresh_anyway = refine_base(model, problem, RefineConfig(500), seed=0, draws=own)[1]  # source fresh
    assert (fresh_anyway["n_draws"], fresh_anyway["source"]) == (500, "fresh")


def test_on_a_support_face_the_weights_are_those_of_the_truncated_components():
    """The right mode sits on the box's face (half of it cut): its mass inside is 0.6 x 0.5 of the
    whole, so the posterior's right share is 0.3 / 0.7; the means and scales stay (the face cuts a
    component), the weights move."""
    problem = two_modes(0.6, centre=6.0, low=-6.0)
    model, order = fitted_with_base(problem, [0.5, 0.5])
    refined, record = refine_base(model, problem, RefineConfig(4000), seed=0)
    assert record["applied"] and not record["moments"]
    assert abs(right_mass(refined) - 0.3 / 0.7) < 0.02 < abs(right_mass(model) - 0.3 / 0.7)


def test_no_step_where_the_weights_are_uneven_without_a_mixture_base_or_when_off():
    problem = two_modes(0.5)
    far = two_modes(0.5, centre=-3.0)  # both modes on the left: the right component's 0.9 has no mass
    model, _ = fitted_with_base(problem, [0.1, 0.9])
    same, record = refine_base(model, far, RefineConfig(1000), seed=0)
    assert same is model and not record["applied"] and record["ess_fraction"] < MIN_ESS_FRACTION
    assert record["n_draws"] == 1000 and "ESS fraction" in record["reason"]
    rbig = lwflow.fit(problem, n_prior_samples=5000, model={"arch": "rbig", "n_modes": 1}, refine=NO_STEP)
    assert refine_base(rbig.model, problem, RefineConfig(), 0)[1] == {
        "n_draws": 0, "applied": False, "reason": "no Gaussian-mixture base (RBIG)"
    }  # fmt: skip
    assert refine_base(model, problem, RefineConfig(0), 0)[0] is model
    assert refine_base(model, problem, RefineConfig(), 0, beta=0.3)[1]["n_draws"] == 0


def test_a_fit_refines_by_default_counts_the_calls_and_one_seed_gives_one_density():
    problem = two_modes(0.7)
    fits = [lwflow.fit(problem, n_prior_samples=20_000, model=MODEL, training=NO_TRAINING) for _ in range(2)]
    diagnostics = fits[0].diagnostics
    assert diagnostics["refinement"]["applied"]
    assert diagnostics["n_likelihood_calls"] == 20_000 + RefineConfig().n_draws + 2000
    theta = fits[0].sample(1000, 3)
    assert np.array_equal(fits[0].log_prob(theta), fits[1].log_prob(theta))
    assert np.array_equal(theta, fits[1].sample(1000, 3))


@pytest.mark.parametrize(
    ("refine", "match"),
    [
        ({"n_draws": -1}, "refine.n_draws.*-1"),
        ({"draws": 10}, "refine.*draws"),
        ({"n_draws": 1.5}, "n_draws"),
        ({"source": "pool"}, "refine.source.*pool"),
    ],
)
def test_bad_refine_settings_are_named(refine, match):
    with pytest.raises(SettingsError, match=match):
        lwflow.fit(two_modes(0.5), n_prior_samples=1000, refine=refine)


def test_the_refined_model_is_saved_and_loaded_as_it_is(tmp_path):
    problem = two_modes(0.7)
    posterior = lwflow.fit(problem, n_prior_samples=20_000, model=MODEL, training=NO_TRAINING)
    posterior.save(tmp_path / "p.pt")
    loaded = lwflow.load_posterior(tmp_path / "p.pt")
    theta = posterior.sample(500, 1)
    assert np.array_equal(loaded.log_prob(theta), posterior.log_prob(theta))
    assert loaded.diagnostics["refinement"] == copy.deepcopy(posterior.diagnostics["refinement"])


def test_an_adaptive_fit_refines_on_its_rounds_draws_at_no_call_where_asked():
    """``refine.source: rounds``: the step reads the rounds' evidence draws (as many as they are),
    its record says so, and the fit's calls are the rounds' and the check's only."""
    problem = two_modes(0.7)
    adaptive = {"n_per_round": 2000, "max_calls": 8000, "final_ess": 1000}
    options = {"model": MODEL, "training": NO_TRAINING, "proposal": "adaptive", "adaptive": adaptive}
    posterior = lwflow.fit(problem, refine={"source": "rounds"}, check={"n_draws": 500}, **options)
    record, rounds = posterior.diagnostics["refinement"], posterior.diagnostics["rounds"]
    assert rounds[-1]["beta"] == 1.0 and record["source"] == "rounds" and record["n_draws"] == 0
    assert record["draws"] == sum(r["n"] for r in rounds[1:])  # every round drawn from a flow
    assert posterior.diagnostics["n_likelihood_calls"] == rounds[-1]["calls"] + 500
