"""What a user would pick instead: nested sampling, MCMC and plain importance resampling
against likelihood-weighted flows with 1 and K base modes, per likelihood call and second.

One row per (problem, method, seed): likelihood calls, wall seconds, W1,avg, sliced W1,
per-mode mass (and its worst error), bridge mass, and for dynesty the log-evidence error
against the exact :math:`\\log Z`.  A ``exact (floor)`` row scores an independent exact
sample of the same size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchmarks import methods
from benchmarks.scoring import Reference
from lwflow.problems import Problem


@dataclass(frozen=True)
class BaselineSettings:
    """Budgets of every method; ``quick()`` is the tiny version the test suite runs."""

    n_prior: int = 400_000
    n_draws: int = 5000
    nlive: tuple[int, ...] = (500, 1000)
    emcee_walkers: int = 32
    emcee_steps: int = 4000
    emcee_burn_in: int = 1000
    bridge_fraction: float = 0.001

    @classmethod
    def quick(cls) -> BaselineSettings:
        return cls(n_prior=20_000, n_draws=300, nlive=(50,), emcee_steps=60, emcee_burn_in=20)


def method_runs(
    problem: Problem, n_modes: int, settings: BaselineSettings, flow: dict, training: dict, clipping: dict
) -> dict[str, Callable[[int], methods.MethodResult]]:
    """Each method as a function of the seed."""
    s = settings
    runs: dict[str, Callable[[int], methods.MethodResult]] = {
        "importance": lambda seed: methods.importance(problem, s.n_prior, s.n_draws, seed),
    }
    for k in sorted({1, n_modes}):
        runs[f"flow_K{k}"] = lambda seed, k=k: methods.likelihood_flow(
            problem, s.n_prior, k, s.n_draws, seed, flow, training, clipping
        )
    for nlive in s.nlive:
        runs[f"dynesty_{nlive}"] = lambda seed, nlive=nlive: methods.dynesty_static(problem, nlive, s.n_draws, seed)
    runs[f"emcee_{s.emcee_walkers}"] = lambda seed: methods.emcee_ensemble(
        problem, s.emcee_walkers, s.emcee_steps, s.emcee_burn_in, s.n_draws, seed
    )
    return runs


def compare(
    problems: dict[str, Problem],
    seeds: list[int],
    settings: BaselineSettings,
    flow: dict[str, Any],
    training: dict[str, Any],
    clipping: dict[str, Any],
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Every method on every problem and seed, scored against the exact posterior."""
    return compare_methods(
        problems,
        seeds,
        settings.n_draws,
        settings.bridge_fraction,
        lambda problem: method_runs(problem, problem.n_modes, settings, flow, training, clipping),
        log,
    )


def compare_methods(
    problems: dict[str, Problem],
    seeds: list[int],
    n_draws: int,
    bridge_fraction: float,
    runs_of: Callable[[Problem], dict[str, Callable[[int], methods.MethodResult]]],
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """``runs_of(problem)`` (method -> run of a seed) on every problem and seed, each scored
    against ``n_draws`` exact draws; an ``exact (floor)`` row per problem and seed."""
    rows = []
    for name, problem in problems.items():
        for seed in seeds:
            reference = Reference.of(problem, n_draws, 10_000 + seed)
            log_z = reference.log_evidence()
            floor = reference.floor_row(10_000 + seed, bridge_fraction)
            rows.append({"problem": name, "dim": problem.dim, "method": "exact (floor)", "seed": seed, **floor})
            for method, run in runs_of(problem).items():
                row = {"problem": name, "dim": problem.dim, "method": method, "seed": seed}
                try:
                    result = run(seed)
                except ValueError as error:  # e.g. too few nonzero weights to train a flow
                    rows.append(row | {"failure": str(error).split(";")[0]})
                    log(f"{name} seed {seed} {method}: failed: {error}")
                    continue
                row |= {"likelihood_calls": result.likelihood_calls, "seconds": result.seconds}
                row |= reference.score(result.draws, bridge_fraction)
                if "log_z" in result.extra:
                    row |= {
                        "log_z_error": result.extra["log_z"] - log_z,
                        "log_z_err_reported": result.extra["log_z_err"],
                    }
                row |= {k: v for k, v in result.extra.items() if k not in ("log_z", "log_z_err")}
                rows.append(row)
                log(f"{name} seed {seed} {method}: {result.seconds:.1f} s, {result.likelihood_calls} calls")
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (problem, method); the std of the accuracy metrics beside them."""
    numeric = [c for c in table.columns if c not in ("problem", "dim", "method", "seed", "mode_masses", "failure")]
    grouped = table.groupby(["problem", "method"], sort=False)
    summary = grouped[numeric].mean()
    for metric in ("sliced_w1", "mode_mass_error"):
        summary[f"{metric}_std"] = grouped[metric].std()
    summary["n_seeds"] = grouped["seed"].nunique()
    return summary.reset_index()
