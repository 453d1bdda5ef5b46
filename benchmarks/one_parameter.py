"""One-parameter posteriors: lwflow's NSF (a stack of monotone splines on a Gaussian-mixture
base; RealNVP needs two parameters) against nautilus, pocoMC and dynesty, side by side per seed.

In one dimension the exact posterior CDF :math:`F` is a quadrature of prior x likelihood on a
fine grid, so each method's equally weighted draws :math:`x_{1..n}` are scored by the
Kolmogorov-Smirnov distance :math:`\\sup_x |F_n(x) - F(x)|` (the ``exact draws`` row is the
same score for ``n`` exact draws: the floor a perfect sampler reaches) and its log Z by its
error against the quadrature's.

Problems (uniform priors):

* ``bimodal_1d``: two Gaussians, weights 0.3 / 0.7, at -2 (sd 0.3) and 1.5 (sd 0.5) on [-5, 5];
* ``skewed_1d``: a Gamma(2, 1) likelihood (a long right tail) on [0, 20];
* ``narrow_1d``: one Gaussian of sd 0.05 at 3 on [-10, 10] (0.5 % of the prior's width).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

import lwflow
from benchmarks import methods
from benchmarks.timing import timed

QUADRATURE_POINTS = 400_001


@dataclass(frozen=True)
class OneParameterSettings:
    """Budgets; ``quick()`` is the tiny version the test suite runs."""

    n_draws: int = 10_000
    n_prior_samples: int = 20_000
    adaptive: tuple[tuple[str, int], ...] = ()
    dynesty_live: int = 500
    samplers: tuple[str, ...] = ("nautilus", "pocomc", "dynesty")

    @classmethod
    def quick(cls) -> OneParameterSettings:
        return cls(
            n_draws=500,
            n_prior_samples=2000,
            adaptive=(("n_per_round", 500), ("max_calls", 1500)),
            samplers=(),
        )


def _bimodal(t: np.ndarray) -> np.ndarray:
    x = t[:, 0]
    left = np.log(0.3) + stats.norm.logpdf(x, -2.0, 0.3)
    return np.logaddexp(left, np.log(0.7) + stats.norm.logpdf(x, 1.5, 0.5))


def _skewed(t: np.ndarray) -> np.ndarray:
    return stats.gamma.logpdf(t[:, 0], 2.0)


def _narrow(t: np.ndarray) -> np.ndarray:
    return stats.norm.logpdf(t[:, 0], 3.0, 0.05)


PROBLEMS: dict[str, tuple[float, float, Callable[[np.ndarray], np.ndarray]]] = {
    "bimodal_1d": (-5.0, 5.0, _bimodal),
    "skewed_1d": (0.0, 20.0, _skewed),
    "narrow_1d": (-10.0, 10.0, _narrow),
}


def problem(name: str) -> lwflow.Problem:
    low, high, log_likelihood = PROBLEMS[name]
    return lwflow.Problem(name, lwflow.UniformBox([low], [high]), log_likelihood)


def exact(name: str) -> tuple[float, Callable[[np.ndarray], np.ndarray], Callable[[int, int], np.ndarray]]:
    """log Z, the posterior CDF and an exact sampler (inverse CDF), by quadrature on a grid."""
    low, high, log_likelihood = PROBLEMS[name]
    grid = np.linspace(low, high, QUADRATURE_POINTS)
    density = np.exp(log_likelihood(grid[:, None])) / (high - low)
    cumulative = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(grid))])
    z = cumulative[-1]

    def cdf(x: np.ndarray) -> np.ndarray:
        return np.interp(x, grid, cumulative / z)

    def sample(n: int, seed: int) -> np.ndarray:
        return np.interp(np.random.default_rng(seed).random(n), cumulative / z, grid)

    return float(np.log(z)), cdf, sample


def _fit(
    pb: lwflow.Problem, seed: int, settings: OneParameterSettings, flow: dict, training: dict, proposal: str
) -> methods.MethodResult:
    options = (
        {"proposal": "adaptive", "adaptive": dict(settings.adaptive)}
        if proposal == "adaptive"
        else {"n_prior_samples": settings.n_prior_samples}
    )
    (posterior, calls), seconds = timed(
        lambda: methods.counted_fit(pb, seed, flow, "auto", arch="nsf", training=training, **options)
    )
    extra = {"log_z": posterior.log_evidence, "log_z_err": posterior.log_evidence_se, "verdict": posterior.verdict}
    return methods.MethodResult(posterior.sample(settings.n_draws, seed), calls, seconds, extra)


METHODS = ("lwflow_nsf_prior", "lwflow_nsf_adaptive", "nautilus", "pocomc", "dynesty")


def _run(
    method: str, pb: lwflow.Problem, seed: int, settings: OneParameterSettings, flow: dict, training: dict
) -> methods.MethodResult:
    if method.startswith("lwflow_nsf_"):
        return _fit(pb, seed, settings, flow, training, method.removeprefix("lwflow_nsf_"))
    if method == "dynesty":
        return methods.dynesty_static(pb, settings.dynesty_live, settings.n_draws, seed)
    return {"nautilus": methods.nautilus_sampler, "pocomc": methods.pocomc_sampler}[method](pb, settings.n_draws, seed)


def compare(
    settings: OneParameterSettings, seeds: list[int], flow: dict, training: dict, names: tuple[str, ...] = ()
) -> pd.DataFrame:
    """One row per (problem, method, seed): KS distance to the exact posterior, log Z error,
    likelihood calls, seconds and (lwflow) the verdict."""
    rows = []
    for name in names or tuple(PROBLEMS):
        pb = problem(name)
        log_z, cdf, exact_sample = exact(name)
        for seed in seeds:
            wanted = [m for m in METHODS if m.startswith("lwflow") or m in settings.samplers]
            exact_draws = exact_sample(settings.n_draws, 10_000 + seed)
            rows.append({"problem": name, "method": "exact draws", "seed": seed, "ks": _ks(exact_draws, cdf)})
            rows[-1]["verdict"] = ""
            for method in wanted:
                try:
                    result = _run(method, pb, seed, settings, flow, training)
                except ValueError as refusal:  # nautilus 1.0.6: "Cannot run Nautilus with less than 2 parameters."
                    rows.append({"problem": name, "method": method, "seed": seed, "verdict": f"refused: {refusal}"})
                    continue
                rows.append(
                    {
                        "problem": name, "method": method, "seed": seed, "ks": _ks(result.draws[:, 0], cdf),
                        "log_z_error": result.extra["log_z"] - log_z, "likelihood_calls": result.likelihood_calls,
                        "seconds": result.seconds, "verdict": result.extra.get("verdict", ""),
                    }
                )  # fmt: skip
    return pd.DataFrame(rows)


def _ks(draws: np.ndarray, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    return float(stats.kstest(np.ravel(draws), cdf).statistic)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Means over seeds per (problem, method); the verdicts as counts."""
    numeric = ["ks", "log_z_error", "likelihood_calls", "seconds"]
    table = runs.groupby(["problem", "method"], sort=False)[numeric].mean().reset_index()
    table["abs_log_z_error_max"] = (
        runs.groupby(["problem", "method"], sort=False)["log_z_error"].apply(lambda e: e.abs().max()).to_numpy()
    )
    verdicts = runs.groupby(["problem", "method"], sort=False)["verdict"].apply(
        lambda v: ", ".join(f"{k} {n}" for k, n in v[v.astype(bool)].value_counts().items())
    )
    table["verdicts"] = verdicts.to_numpy()
    table["seeds"] = runs.groupby(["problem", "method"], sort=False)["seed"].count().to_numpy()
    return table.round({"ks": 4, "log_z_error": 4, "abs_log_z_error_max": 4, "likelihood_calls": 0, "seconds": 1})
