"""Each built-in posterior integrates to 1 and its sampler matches its density."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lwflow.problems import (
    GaussianMixture,
    UniformBox,
    gaussian_mixture_problem,
    load_user_problem,
    problem_from_spec,
)

PAPER_PROBLEMS = ["gmm2d_1mode", "gmm2d_2mode", "gmm2d_3mode", "gmm3d_3mode", "nongauss3d"]


def midpoint_grid(low: float, high: float, dim: int, n: int) -> tuple[np.ndarray, float]:
    """Cell centres of an n^dim grid on [low, high]^dim and the cell volume."""
    step = (high - low) / n
    axis = low + step * (np.arange(n) + 0.5)
    grid = np.stack(np.meshgrid(*[axis] * dim, indexing="ij"), axis=-1).reshape(-1, dim)
    return grid, step**dim


@pytest.mark.parametrize("name", PAPER_PROBLEMS)
def test_posterior_integrates_to_one(default_problems, name):
    problem = default_problems[name]
    low, high = problem.prior.support()
    n = 400 if problem.dim == 2 else 130
    grid, volume = midpoint_grid(low[0], high[0], problem.dim, n)
    integral = np.exp(problem.truth.log_prob(grid)).sum() * volume
    assert integral == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("name", PAPER_PROBLEMS)
def test_sampler_matches_density(default_problems, name):
    """Mean and covariance of exact samples agree with the grid integrals of the density."""
    problem = default_problems[name]
    low, high = problem.prior.support()
    grid, volume = midpoint_grid(low[0], high[0], problem.dim, 300 if problem.dim == 2 else 110)
    mass = np.exp(problem.truth.log_prob(grid)) * volume
    mean = mass @ grid / mass.sum()
    cov = ((grid - mean) * mass[:, None]).T @ (grid - mean) / mass.sum()
    samples = problem.truth.sample(100_000, np.random.default_rng(0))
    assert np.all(problem.prior.contains(samples))
    standard_error = np.sqrt(np.diag(cov) / len(samples))
    np.testing.assert_array_less(np.abs(samples.mean(0) - mean), 5 * standard_error + 0.01)
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.05 * np.abs(cov).max())


def test_sampler_chi_square_on_coarse_bins(default_problems):
    """Bin frequencies of samples against bin probabilities from the density (three-mode 2D)."""
    problem = default_problems["gmm2d_3mode"]
    grid, volume = midpoint_grid(-12, 12, 2, 480)
    mass = np.exp(problem.truth.log_prob(grid)) * volume
    edges = np.linspace(-12, 12, 13)
    expected, _, _ = np.histogram2d(grid[:, 0], grid[:, 1], bins=[edges, edges], weights=mass)
    samples = problem.truth.sample(50_000, np.random.default_rng(1))
    observed, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])
    keep = expected.ravel() * len(samples) > 5
    chi2 = np.sum(
        (observed.ravel()[keep] - len(samples) * expected.ravel()[keep]) ** 2 / (len(samples) * expected.ravel()[keep])
    )
    assert stats.chi2(keep.sum() - 1).sf(chi2) > 1e-3


def test_gaussian_mixture_log_prob_is_closed_form():
    mixture = GaussianMixture(
        np.array([[0.0, 0.0], [3.0, 0.0]]), np.array([np.eye(2), 2 * np.eye(2)]), np.array([0.25, 0.75])
    )
    x = np.array([[0.5, -1.0]])
    expected = np.log(
        0.25 * stats.multivariate_normal([0, 0], np.eye(2)).pdf(x)
        + 0.75 * stats.multivariate_normal([3, 0], 2 * np.eye(2)).pdf(x)
    )
    assert mixture.log_prob(x)[0] == pytest.approx(expected)


def test_box_mass_is_the_same_every_time():
    """scipy's multivariate normal CDF is a randomised integral; unseeded, the 3D problem's
    log box mass differed in the 11th digit from one construction to the next."""
    spec = {
        "bounds": [-12, 12],
        "means": [[5, 5, -5], [5, 7, 5], [-5, 7, 5]],
        "covariances": [
            [[1.0, 0.3, 0.2], [0.3, 1.2, -0.3], [0.2, -0.3, 0.8]],
            [[0.8, -0.2, 0.1], [-0.2, 1.0, 0.4], [0.1, 0.4, 1.3]],
            [[1.3, 0.4, -0.3], [0.4, 0.9, 0.1], [-0.3, 0.1, 1.0]],
        ],
    }
    masses = {gaussian_mixture_problem("m", **spec).truth.log_mass for _ in range(3)}
    assert len(masses) == 1


def test_mixture_log_density_is_scipy_s_bit_for_bit_without_importing_scipy_stats(default_config, modules_imported_by):
    """GaussianMixture.log_prob repeats scipy's multivariate_normal.logpdf (written in lwflow to
    spare every job that builds a mixture problem scipy.stats' 1.1 s import)."""
    from scipy import stats
    from scipy.special import logsumexp

    rng = np.random.default_rng(0)
    for dim, k in ((1, 1), (2, 3), (3, 3), (10, 2), (20, 1)):
        factors = rng.normal(size=(k, dim, dim))
        covariances = factors @ factors.transpose(0, 2, 1) + 0.1 * np.eye(dim)
        mixture = GaussianMixture(3 * rng.normal(size=(k, dim)), covariances, rng.uniform(0.2, 1.0, size=k))
        for theta in (rng.normal(size=dim), 4 * rng.normal(size=(500, dim))):
            logs = [
                np.log(w) + stats.multivariate_normal(m, c).logpdf(np.atleast_2d(theta)).reshape(-1)
                for w, m, c in zip(mixture.weights, mixture.means, mixture.covariances)
            ]
            assert np.array_equal(mixture.log_prob(theta), logsumexp(np.stack(logs), axis=0))
    mixtures = [name for name, spec in default_config["problems"].items() if spec["kind"] == "gaussian_mixture"]
    code = (
        "import numpy as np, yaml\n"
        "from lwflow.problems import problem_from_spec\n"
        f"problems = yaml.safe_load(open({str(Path(__file__).parents[1] / 'config.yaml')!r}))['problems']\n"
        f"for name in {mixtures!r}:\n"
        "    problem = problem_from_spec(name, problems[name])\n"
        "    problem.log_likelihood(problem.prior.sample(10, np.random.default_rng(0)))\n"
    )
    assert len(mixtures) >= 5 and "scipy.stats" not in modules_imported_by(code)


def test_a_box_that_misses_the_target_is_refused_when_its_mass_is_first_needed():
    """The box mass is computed lazily (jobs that only draw from the prior skip scipy.stats); the
    check comes with it, and the workflow asks for it when it reads its config."""
    problem = gaussian_mixture_problem("far", bounds=[20, 30], means=[[0.0, 0.0]], covariances=[np.eye(2).tolist()])
    assert problem.prior.sample(5, np.random.default_rng(0)).shape == (5, 2)
    with pytest.raises(ValueError, match="widen the box"):
        _ = problem.truth.log_mass


def test_prior_box_log_prob_and_support():
    box = UniformBox([-1, 0], [1, 4])
    assert box.log_prob(np.array([[0.0, 1.0], [2.0, 1.0]])).tolist() == [-np.log(8), -np.inf]
    with pytest.raises(ValueError, match="low < high"):
        UniformBox([1], [0])


def test_invalid_covariance_is_rejected():
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_mixture_problem("bad", (-5, 5), [[0, 0]], [[[1.0, 2.0], [2.0, 1.0]]])


def test_unknown_kind_and_bad_user_reference_name_the_fix():
    with pytest.raises(ValueError, match="unknown kind"):
        problem_from_spec("x", {"kind": "nope", "n_prior_samples": 10})
    with pytest.raises(ValueError, match="module:attribute"):
        load_user_problem("no_colon")
    with pytest.raises(ValueError, match="cannot import module"):
        load_user_problem("surely_not_a_module_xyz:problem")


def test_user_problem_loads(tmp_path, monkeypatch):
    (tmp_path / "my_model.py").write_text(
        "import numpy as np\n"
        "from lwflow.problems import Problem, UniformBox\n"
        "def problem():\n"
        "    return Problem('mine', UniformBox([-5, -5], [5, 5]), lambda t: -0.5 * (t**2).sum(1))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    problem = load_user_problem("my_model:problem")
    assert problem.dim == 2 and problem.truth is None


def test_a_key_a_user_problem_does_not_take_is_refused(tmp_path, monkeypatch):
    (tmp_path / "plain_model.py").write_text(
        "from lwflow.problems import Problem, UniformBox\n"
        "problem = Problem('mine', UniformBox([-5, -5], [5, 5]), lambda t: -0.5 * (t**2).sum(1))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = {"kind": "user", "target": "plain_model:problem", "n_prior_samples": 10, "bounds": [-5, 5]}
    with pytest.raises(ValueError, match="bounds"):
        problem_from_spec("mine", spec)


@pytest.mark.parametrize("reference", ["sys:exit", "os:abort", "builtins:print"])
def test_a_target_in_pythons_own_modules_is_refused_before_it_is_called(reference):
    with pytest.raises(ValueError, match="a module of Python itself"):
        load_user_problem(reference)
