"""The public API: fit -> Posterior against closed forms, priors, the support, save/load, exports."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lwflow
from lwflow import load_posterior
from lwflow.models.support import TruncatedModel
from lwflow.settings import SettingsError

FAST = {"max_steps": 400, "eval_every": 50, "batch_size": 512}
SMALL = {"arch": "realnvp", "n_modes": 1, "n_layers": 4, "hidden_units": 32}


def test_public_names():
    assert {"fit", "Posterior", "load_posterior", "Problem", "UniformBox", "Gaussian", "ProductOfMarginals"} <= set(
        lwflow.__all__
    )
    assert all(getattr(lwflow, name) is not None for name in lwflow.__all__)


@pytest.mark.parametrize("prior_covariance", [4.0, [[4.0, 1.5], [1.5, 2.0]]])
def test_gaussian_prior_and_likelihood_match_the_conjugate_posterior_and_evidence(prior_covariance):
    """Prior N(0, S), likelihood N(y | theta, s^2 I): posterior N(m, P^-1) with P = S^-1 + I/s^2,
    m = P^-1 y / s^2, and Z = N(y; 0, S + s^2 I)."""
    y, noise = np.array([1.0, -1.0]), 0.5
    prior = lwflow.Gaussian([0.0, 0.0], prior_covariance)
    problem = lwflow.Problem("conjugate", prior, lambda t: stats.multivariate_normal(y, noise * np.eye(2)).logpdf(t))
    posterior = lwflow.fit(problem, n_prior_samples=40_000, seed=0, model=SMALL, training=FAST)

    precision = np.linalg.inv(prior.covariance) + np.eye(2) / noise
    covariance = np.linalg.inv(precision)
    mean = covariance @ y / noise
    log_z = stats.multivariate_normal(np.zeros(2), prior.covariance + noise * np.eye(2)).logpdf(y)

    draws = posterior.sample(20_000, seed=1)
    assert np.allclose(draws.mean(0), mean, atol=0.03)
    assert np.allclose(np.cov(draws.T), covariance, atol=0.04)
    assert abs(posterior.log_evidence - log_z) < 4 * posterior.log_evidence_se + 0.01
    assert 0 < posterior.log_evidence_se < 0.05
    exact = stats.multivariate_normal(mean, covariance).logpdf(draws)
    assert np.mean(exact - posterior.log_prob(draws)) < 0.02  # KL(q || p) is small


def face_problem(dim: int) -> lwflow.Problem:
    """A box prior [0, 1]^dim whose posterior piles up against the faces at 0."""
    return lwflow.Problem(
        "face", lwflow.UniformBox(np.zeros(dim), np.ones(dim)), lambda t: -0.5 * (t**2).sum(1) / 0.3**2
    )


def test_no_sample_falls_outside_a_box_prior_whose_posterior_reaches_its_faces():
    posterior = lwflow.fit(face_problem(5), n_prior_samples=40_000, seed=0, model=SMALL, training=FAST)
    assert isinstance(posterior.model, TruncatedModel)
    outside = 1 - posterior.model.mass
    assert outside > 0.01  # the flow on R^5 alone puts mass beyond the faces ...
    draws = posterior.sample(20_000, seed=3)
    assert ((draws >= 0) & (draws <= 1)).all()  # ... the posterior none
    assert np.isneginf(posterior.log_prob(np.array([[-0.01, 0.5, 0.5, 0.5, 0.5]]))).all()


def test_log_prob_integrates_to_one_over_a_2d_box():
    posterior = lwflow.fit(face_problem(2), n_prior_samples=40_000, seed=0, model=SMALL, training=FAST)
    grid = (np.arange(400) + 0.5) / 400
    points = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    integral = np.exp(posterior.log_prob(points)).sum() / len(points)
    assert integral == pytest.approx(1.0, abs=0.01)
    assert posterior.model.mass < 0.99  # the truncation made a difference


def test_a_half_bounded_product_prior_keeps_its_support():
    prior = lwflow.ProductOfMarginals((stats.halfnorm(scale=1.0), stats.norm(0, 2)))
    assert np.array_equal(prior.support()[0], [0, -np.inf])
    log_likelihood = lambda t: -0.5 * ((t - [0.2, 1.0]) ** 2).sum(1) / 0.25  # noqa: E731
    problem = lwflow.Problem("half", prior, log_likelihood, parameter_names=("a", "b"))
    posterior = lwflow.fit(problem, n_prior_samples=30_000, seed=0, model=SMALL, training=FAST)
    assert (posterior.sample(10_000, seed=0)[:, 0] >= 0).all()
    assert list(posterior.summary()["parameter"]) == ["a", "b"]


def test_posterior_saves_loads_and_exports(tmp_path):
    problem = lwflow.Problem("mine", lwflow.UniformBox([-3, -3], [3, 3]), lambda t: -0.5 * ((t - 1) ** 2).sum(1) / 0.2)
    posterior = lwflow.fit(problem, n_prior_samples=20_000, seed=0, model={**SMALL, "n_modes": "auto"}, training=FAST)
    diagnostics = posterior.diagnostics
    assert diagnostics["clipping"]["ess_before"] > 100 and diagnostics["modes"]["rule"] == "auto"
    assert len(diagnostics["modes"]["bic"]) == 6 and posterior.n_modes == 1
    assert len(diagnostics["loss_history"]["val_loss"]) >= 2

    posterior.save(tmp_path / "posterior.pt")
    loaded = load_posterior(tmp_path / "posterior.pt")
    theta = posterior.sample(500, seed=4)
    np.testing.assert_array_equal(loaded.sample(500, seed=4), theta)
    np.testing.assert_array_equal(loaded.log_prob(theta), posterior.log_prob(theta))
    assert loaded.log_evidence == posterior.log_evidence
    assert json.dumps(loaded.diagnostics, sort_keys=True) == json.dumps(diagnostics, sort_keys=True)  # NaN == NaN

    posterior.to_csv(tmp_path / "draws.csv", n=300)
    frame = pd.read_csv(tmp_path / "draws.csv")
    assert list(frame.columns) == ["theta_1", "theta_2", "log_prob"] and len(frame) == 300

    pytest.importorskip("arviz_base")
    import xarray as xr

    posterior.to_inference_data(n=200).to_netcdf(tmp_path / "draws.nc")
    tree = xr.open_datatree(tmp_path / "draws.nc")
    assert tree["posterior"]["theta_1"].shape == (1, 200)


def test_a_prior_with_the_wrong_shapes_is_refused_with_what_to_return():
    class FlatPrior:
        dim = 2

        def sample(self, n, rng):
            return rng.uniform(size=n)  # (n,), not (n, 2)

        def log_prob(self, theta):
            return np.zeros(len(theta))

        def support(self):
            return np.zeros(2), np.ones(2)

    problem = lwflow.Problem("flat", FlatPrior(), lambda t: np.zeros(len(t)))
    with pytest.raises(ValueError, match=r"returned shape \(4,\); return an array of shape \(n, dim\)"):
        lwflow.fit(problem)


def test_the_evidence_se_follows_the_ess():
    from lwflow.fitting.weights import log_evidence, weights_from_log_likelihood
    from lwflow.weighted_draws import effective_sample_size

    ll = np.random.default_rng(0).normal(size=1000)
    log_z, se = log_evidence(ll)
    assert log_z == pytest.approx(math.log(np.exp(ll).mean()))
    ess = effective_sample_size(weights_from_log_likelihood(ll))
    assert se == pytest.approx(math.sqrt(1 / ess - 1 / 1000))


def two_unequal_modes(theta: np.ndarray) -> np.ndarray:
    """Modes at (1.5, 1.5) and (-1.5, -1.5), with masses 2/3 and 1/3."""
    near = -0.5 * ((theta - 1.5) ** 2).sum(1) / 0.09
    return np.logaddexp(near, np.log(0.5) - 0.5 * ((theta + 1.5) ** 2).sum(1) / 0.09)


@pytest.fixture(scope="module")
def two_mode_posterior() -> lwflow.Posterior:
    problem = lwflow.Problem("two", lwflow.UniformBox([-4, -4], [4, 4]), two_unequal_modes, parameter_names=("x", "y"))
    adaptive = {"n_per_round": 1000, "max_calls": 6000, "final_ess": 1500}
    model = {"n_modes": 2, "n_layers": 4, "hidden_units": 32}
    return lwflow.fit(problem, proposal="adaptive", seed=0, adaptive=adaptive, model=model, training=FAST)


def test_the_summary_prints_the_evidence_ess_modes_calls_and_verdict_above_the_table(two_mode_posterior):
    text = repr(two_mode_posterior.summary(n=2000)).splitlines()
    ess = two_mode_posterior.diagnostics["clipping"]["ess_after"]
    assert text[0] == "two: realnvp, 2 base modes"
    assert text[1].startswith(f"log Z {two_mode_posterior.log_evidence:.4f} +- ") and f"ESS {ess:.0f})" in text[1]
    assert text[2] == f"{two_mode_posterior.diagnostics['n_likelihood_calls']} likelihood calls"
    assert text[3].startswith(f"verdict: {two_mode_posterior.verdict} (Pareto k")
    assert text[4].split() == ["parameter", "mean", "sd", "q05", "q50", "q95"]


def test_plot_colours_the_draws_by_base_mode_with_their_shares(two_mode_posterior, tmp_path):
    figure = two_mode_posterior.plot(n=3000, path=tmp_path / "pair.png")
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend[0] == "weighted draws" and len(legend) == 3
    shares = sorted(float(label.split("(")[1].rstrip("%)")) for label in legend[1:])
    assert abs(shares[0] - 100 / 3) < 3 and abs(shares[1] - 200 / 3) < 3  # the modes' masses
    assert [ax.get_xlabel() for ax in figure.axes if ax.get_xlabel()] == ["x", "y"]
    assert (tmp_path / "pair.png").stat().st_size > 10_000


def test_arviz_summarises_and_plots_the_draws(two_mode_posterior):
    """ArviZ 0.23 (what `pip install arviz` gives, pinned in the test extra) takes the result as it
    is; without it, the DataTree of arviz-base, which ArviZ 1 takes."""
    import arviz as az
    import matplotlib

    matplotlib.use("Agg")
    data = two_mode_posterior.to_inference_data(n=1000)
    table = az.summary(data, kind="stats")
    assert list(table.index) == ["x", "y"] and abs(table.loc["x", "mean"] - 0.5) < 0.3
    assert az.plot_pair(data) is not None


def test_without_arviz_0_the_draws_are_an_arviz_base_datatree(two_mode_posterior, monkeypatch):
    import xarray as xr

    from lwflow.fitting import posterior

    monkeypatch.setattr(posterior, "_arviz_before_1", lambda: None)
    tree = two_mode_posterior.to_inference_data(n=100)
    assert isinstance(tree, xr.DataTree) and tree["posterior"]["x"].shape == (1, 100)
    assert tree["sample_stats"]["lp"].shape == (1, 100)


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_shows_by_default_on_a_terminal_only(monkeypatch, capsys, terminal):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    problem = lwflow.Problem("mine", lwflow.UniformBox([-3, -3], [3, 3]), lambda t: -0.5 * ((t - 1) ** 2).sum(1))
    lwflow.fit(problem, n_prior_samples=2000, seed=0, model=SMALL, training={"max_steps": 20, "eval_every": 10})
    assert ("training" in capsys.readouterr().err) is terminal


def one_parameter_two_modes(theta: np.ndarray) -> np.ndarray:
    """Masses 0.3 at -2 (sd 0.3) and 0.7 at 1.5 (sd 0.5): on the prior [-5, 5], Z = 1/10."""
    x = theta[:, 0]
    return np.logaddexp(np.log(0.3) + stats.norm.logpdf(x, -2, 0.3), np.log(0.7) + stats.norm.logpdf(x, 1.5, 0.5))


def test_a_one_parameter_problem_is_fitted_by_nsf_and_realnvp_refuses_it_naming_nsf():
    problem = lwflow.Problem("one", lwflow.UniformBox([-5], [5]), one_parameter_two_modes)
    with pytest.raises(SettingsError, match="realnvp needs at least 2 parameters.*pass model=\\{'arch': 'nsf'\\}"):
        lwflow.fit(problem, n_prior_samples=1000)
    model = {"arch": "nsf", "n_layers": 4, "hidden_units": 32}
    posterior = lwflow.fit(problem, n_prior_samples=20_000, seed=0, model=model, training=FAST)
    draws = posterior.sample(5000, seed=1)[:, 0]
    exact_cdf = lambda x: 0.3 * stats.norm.cdf(x, -2, 0.3) + 0.7 * stats.norm.cdf(x, 1.5, 0.5)  # noqa: E731
    assert stats.kstest(draws, exact_cdf).statistic < 0.03  # 5 000 exact draws: 0.019 at the 95th percentile
    assert abs(posterior.log_evidence - np.log(0.1)) < 0.05
    assert posterior.diagnostics["n_modes"] == 2
    assert abs(np.mean(draws < 0) - 0.3) < 0.02


def test_renamed_public_names_work_for_one_release_with_a_warning_naming_the_new_one(two_mode_posterior):
    import lwflow.fitting
    import lwflow.models

    with pytest.warns(DeprecationWarning, match="lwflow.fitting.clipped_weights is renamed training_weights"):
        assert lwflow.fitting.clipped_weights is lwflow.fitting.training_weights
    with pytest.warns(DeprecationWarning, match="lwflow.models.FlowSpec is renamed FlowArchitecture"):
        assert lwflow.models.FlowSpec is lwflow.models.FlowArchitecture
    with pytest.warns(DeprecationWarning, match="Posterior.spec is renamed Posterior.architecture"):
        assert two_mode_posterior.spec is two_mode_posterior.architecture
    assert "clipped_weights" not in lwflow.fitting.__all__ and "FlowSpec" not in lwflow.models.__all__
