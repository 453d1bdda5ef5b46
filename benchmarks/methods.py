"""Posterior samplers side by side: each returns equally weighted draws, its likelihood calls
and its wall time, on a :class:`lwflow.problems.Problem` with a uniform-box prior.

* ``importance``: prior draws resampled with probability proportional to the likelihood.
* ``flow_K{k}``: :func:`lwflow.fit` (paper A's likelihood-weighted flow, ``k`` base modes,
  the ESS floor of ``clipping``) and its evidence estimate; draws from the fitted posterior.
* ``dynesty_{nlive}``: static nested sampling (dynesty), posterior draws by equal-weight
  resampling, and the log-evidence :math:`\\log Z` with its error.
* ``emcee``: affine-invariant ensemble MCMC (32 walkers started from the prior), after
  burn-in, thinned to the requested number of draws.
* ``adaptive``: :func:`lwflow.fit` with ``proposal='adaptive'`` (the flow proposes its own
  training points); draws from the final flow, resampled from the weighted draws, or
  importance-corrected, and its evidence.
* ``nautilus``, ``pocomc``: nautilus-sampler and pocoMC at their default settings on the unit
  cube mapped onto the prior box; draws resampled from their weighted posterior, and log Z.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from benchmarks.timing import CountingLikelihood, timed
from lwflow.fitting.pipeline import fit
from lwflow.fitting.weights import weighted_resample, weights_from_log_likelihood
from lwflow.problems import Problem
from lwflow.weighted_draws import effective_sample_size


@dataclass
class MethodResult:
    draws: np.ndarray
    likelihood_calls: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


FIRST_RUN_IMPORTS = ("sklearn.mixture", "nautilus", "pocomc", "dynesty", "emcee")
"""What the methods import on their first run: scikit-learn's mixtures (lwflow's base modes
``auto``) and the samplers.  Measured: importing ``sklearn.mixture`` took 4.2 s while a test run
loaded the machine, and the adaptive benchmark charged it to the first lwflow fit of a run
(choosing K 7.5-8.4 s on seed 0 against 1.8-2.2 s on seeds 1-2, at 6b58468)."""


def import_libraries() -> None:
    """Import :data:`FIRST_RUN_IMPORTS` before any run is timed, so that no method's first run
    pays a library's import and every method is timed at the same state."""
    import importlib

    for name in FIRST_RUN_IMPORTS:
        importlib.import_module(name)


def _box(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    low, high = problem.prior.support()
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def _weighted_prior_draws(
    problem: Problem, n_prior: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    """``n_prior`` prior draws, their likelihood weights and the likelihood calls spent."""
    likelihood = CountingLikelihood(problem.log_likelihood)
    theta = problem.prior.sample(n_prior, rng)
    weights = weights_from_log_likelihood(likelihood(theta))
    return theta, weights, likelihood.calls


def importance(problem: Problem, n_prior: int, n_draws: int, seed: int) -> MethodResult:
    def run() -> tuple[np.ndarray, int, float]:
        rng = np.random.default_rng(seed)
        theta, weights, calls = _weighted_prior_draws(problem, n_prior, rng)
        draws = theta[rng.choice(n_prior, size=n_draws, p=weights / weights.sum())]
        return draws, calls, effective_sample_size(weights)

    (draws, calls, ess), seconds = timed(run)
    return MethodResult(draws, calls, seconds, {"prior_ess": ess})


def counted_fit(
    problem: Problem, seed: int, flow: dict[str, Any], n_modes: int | str, arch: str = "realnvp", **options: Any
) -> tuple[Any, int]:
    """:func:`lwflow.fit` (the same code as the workflow) of an ``arch`` flow (RealNVP unless
    told) with the likelihood's calls counted: the posterior and the calls."""
    counted = replace(problem, log_likelihood=CountingLikelihood(problem.log_likelihood))
    model = {"arch": arch, "n_modes": n_modes, "n_layers": flow["n_layers"], "hidden_units": flow["hidden_units"]}
    return fit(counted, seed=seed, model=model, **options), counted.log_likelihood.calls


def likelihood_flow(
    problem: Problem,
    n_prior: int,
    n_modes: int,
    n_draws: int,
    seed: int,
    flow: dict[str, Any],
    training: dict[str, Any],
    clipping: dict[str, Any],
) -> MethodResult:
    """One-shot :func:`lwflow.fit` on ``n_prior`` prior draws with ``n_modes`` base modes."""
    (posterior, calls), seconds = timed(
        lambda: counted_fit(problem, seed, flow, n_modes, n_prior_samples=n_prior, training=training, clipping=clipping)
    )
    extra = {"log_z": posterior.log_evidence, "log_z_err": posterior.log_evidence_se}
    return MethodResult(posterior.sample(n_draws, seed), calls, seconds, extra)


def adaptive_flow(
    problem: Problem,
    n_draws: int,
    seed: int,
    flow: dict[str, Any],
    training: dict[str, Any],
    adaptive: dict[str, Any],
    mode_selection: dict[str, Any] | None = None,
    refine: dict[str, Any] | None = None,
) -> dict[str, MethodResult]:
    """:func:`lwflow.fit` with adaptive rounds and base modes ``auto`` (chosen as ``mode_selection``
    says, by default the library's; the base refined as ``refine`` says, by default the
    library's), read three ways from one run: ``flow`` draws from the final
    flow, ``weighted`` resamples the posterior's weighted draws (``Posterior.resample``, as the
    samplers' draws are resampled), ``corrected`` are importance-corrected draws
    (``Posterior.sample(n, corrected=True)``), with their extra likelihood calls and seconds counted."""
    options = {"training": training, "proposal": "adaptive", "adaptive": adaptive}
    options |= {"mode_selection": mode_selection, "refine": refine}
    (posterior, calls), seconds = timed(lambda: counted_fit(problem, seed, flow, "auto", **options))
    extra = {"log_z": posterior.log_evidence, "log_z_err": posterior.log_evidence_se}
    extra |= {"rounds": len(posterior.diagnostics["rounds"]), "pareto_k": posterior.diagnostics["pareto_k"]}
    extra |= {"weights_ess": posterior.diagnostics["clipping"]["ess_after"], "verdict": posterior.verdict}
    extra |= stage_seconds(posterior.diagnostics["rounds"])
    corrected, corrected_seconds = timed(lambda: posterior.sample(n_draws, seed, corrected=True))
    corrected_calls = posterior.fitted_problem.log_likelihood.calls
    distinct = {"distinct_draws": len(np.unique(corrected, axis=0))}
    return {
        "flow": MethodResult(posterior.sample(n_draws, seed), calls, seconds, extra),
        "weighted": MethodResult(posterior.resample(n_draws, seed), calls, seconds, extra),
        "corrected": MethodResult(corrected, corrected_calls, seconds + corrected_seconds, extra | distinct),
    }


def stage_seconds(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """The rounds' seconds per stage (likelihood, weighing, base modes K, training, ...), summed
    over the rounds, as ``seconds_{stage}`` columns."""
    totals: dict[str, float] = {}
    for record in rounds:
        for stage, seconds in record["seconds"].items():
            totals[f"seconds_{stage}"] = totals.get(f"seconds_{stage}", 0.0) + seconds
    return totals


def nautilus_sampler(problem: Problem, n_draws: int, seed: int) -> MethodResult:
    """nautilus-sampler at its defaults (2000 live points), vectorised likelihood."""
    import nautilus

    low, high = _box(problem)
    likelihood = CountingLikelihood(problem.log_likelihood)

    def run() -> Any:
        sampler = nautilus.Sampler(
            lambda u: low + u * (high - low), likelihood, n_dim=len(low), vectorized=True, seed=seed
        )
        sampler.run(verbose=False)
        return sampler

    sampler, seconds = timed(run)
    points, log_w, _ = sampler.posterior()
    return MethodResult(
        weighted_resample(points, log_w, n_draws, seed),
        likelihood.calls,
        seconds,
        {"log_z": sampler.log_z, "log_z_err": float("nan")},
    )


def pocomc_sampler(problem: Problem, n_draws: int, seed: int) -> MethodResult:
    """pocoMC at its defaults, a uniform prior on the box, vectorised likelihood."""
    import pocomc
    from scipy import stats

    low, high = _box(problem)
    likelihood = CountingLikelihood(problem.log_likelihood)

    def run() -> Any:
        prior = pocomc.Prior([stats.uniform(lo, hi - lo) for lo, hi in zip(low, high)])
        sampler = pocomc.Sampler(prior=prior, likelihood=likelihood, vectorize=True, random_state=seed)
        sampler.run(progress=False)
        return sampler

    sampler, seconds = timed(run)
    points, weights, _, _ = sampler.posterior()
    log_z, log_z_err = sampler.evidence()
    draws = weighted_resample(points, np.log(np.maximum(weights, 1e-300)), n_draws, seed)
    return MethodResult(draws, likelihood.calls, seconds, {"log_z": float(log_z), "log_z_err": float(log_z_err)})


def dynesty_static(problem: Problem, nlive: int, n_draws: int, seed: int) -> MethodResult:
    """Nested sampling over the unit cube mapped onto the prior box."""
    import dynesty

    low, high = _box(problem)
    likelihood = CountingLikelihood(problem.log_likelihood)

    def run() -> Any:
        sampler = dynesty.NestedSampler(
            lambda x: float(likelihood(x)[0]),
            lambda u: low + u * (high - low),
            len(low),
            nlive=nlive,
            rstate=np.random.default_rng(seed),
        )
        sampler.run_nested(print_progress=False)
        return sampler.results

    results, seconds = timed(run)
    equal = results.samples_equal(rstate=np.random.default_rng(seed))
    draws = equal[np.random.default_rng(seed).choice(len(equal), size=n_draws, replace=len(equal) < n_draws)]
    extra = {"log_z": float(results.logz[-1]), "log_z_err": float(results.logzerr[-1])}
    return MethodResult(draws, likelihood.calls, seconds, extra)


def emcee_ensemble(
    problem: Problem, n_walkers: int, n_steps: int, burn_in: int, n_draws: int, seed: int
) -> MethodResult:
    """Walkers start uniformly in the prior box; the log-posterior is the log-likelihood inside it."""
    import emcee

    low, high = _box(problem)
    likelihood = CountingLikelihood(problem.log_likelihood)

    def log_posterior(theta: np.ndarray) -> np.ndarray:
        inside = np.all((theta >= low) & (theta <= high), axis=1)
        out = np.full(len(theta), -np.inf)
        if inside.any():
            out[inside] = likelihood(theta[inside])
        return out

    def run() -> np.ndarray:
        rng = np.random.default_rng(seed)
        sampler = emcee.EnsembleSampler(n_walkers, len(low), log_posterior, vectorize=True)
        sampler.random_state = np.random.RandomState(seed).get_state()  # emcee's documented seed hook
        sampler.run_mcmc(rng.uniform(low, high, size=(n_walkers, len(low))), n_steps, progress=False)
        chain = sampler.get_chain(discard=burn_in, flat=True)
        return chain[np.linspace(0, len(chain) - 1, n_draws).astype(int)]

    draws, seconds = timed(run)
    return MethodResult(draws, likelihood.calls, seconds)
