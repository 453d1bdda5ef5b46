"""The verdict against the truth: every fit's check (:mod:`lwflow.fitting.verdict`) beside its
accuracy against the exact posterior, over the benchmark problems, seeds and proposals.

One row per (problem, proposal, seed): the check's numbers and verdict, the likelihood calls,
and the accuracy of the flow's draws and of its importance-corrected draws
(``posterior.sample(n, corrected=True)``): sliced W1 over the truth-vs-truth floor and the worst
mode-mass error (:mod:`benchmarks.scoring`).  A fit is *accurate* at sliced W1 <= 1.2 x floor
and mode masses within 0.02 (the adaptive benchmark's goal, :data:`benchmarks.adaptive.GOAL`);
targets whose modes cannot be told apart (banana, two moons) are judged by sliced W1 alone.

Proposals: ``prior`` (paper A's one-shot fit on the config's prior draws), ``adaptive`` (rounds
at their defaults) and ``adaptive_small`` (a 10 000-call budget: fits stopped early, the
cases a verdict must catch).  A fit refused before training (the ESS floor) is a row with its
error: a loud verdict of its own.

Fits run side by side in a process pool (``--workers``), each row written as it finishes, so
that a run cut short keeps what it measured; :func:`verdict_table` re-judges the stored numbers
with today's thresholds.
"""

from __future__ import annotations

import concurrent.futures
import csv
import os
import time
import traceback
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.adaptive import GOAL
from benchmarks.scaling import two_mode_problem
from benchmarks.scoring import Reference
from benchmarks.timing import CountingLikelihood
from lwflow.problems import Problem, problem_from_spec

PAPER_PROBLEMS = ("gmm2d_1mode", "gmm2d_2mode", "gmm2d_3mode", "gmm3d_3mode", "nongauss3d", "banana", "x_shape")
PAPER_PROBLEMS += ("bimodal", "five_mode")
PAPER_PROBLEMS += ("two_moons", "rings")
PROPOSALS = {
    "prior": {},
    "adaptive": {},
    "adaptive_small": {"n_per_round": 2000, "max_calls": 10_000},
}


@dataclass(frozen=True)
class VerdictSettings:
    """Sizes; ``quick()`` is the tiny version the test suite runs."""

    n_draws: int = 5000
    dims: tuple[int, ...] = (2, 5, 10, 20)
    # adaptive fits at the defaults in 20-D take about 1 400 s each (docs/results/adaptive.md); not here
    skipped: tuple[tuple[str, str], ...] = (("two_mode_20d", "adaptive"),)
    prior_samples: int = 100_000  # prior draws of the two-mode problems
    paper_prior_samples: int | None = None  # of the paper problems (None: the config's)
    adaptive: tuple[tuple[str, int], ...] = ()  # settings of each adaptive proposal (empty: the defaults)
    adaptive_small: tuple[tuple[str, int], ...] = tuple(PROPOSALS["adaptive_small"].items())

    @classmethod
    def quick(cls) -> VerdictSettings:
        return cls(
            n_draws=300,
            dims=(2,),
            prior_samples=4000,
            paper_prior_samples=4000,
            adaptive=(("n_per_round", 500), ("max_calls", 2000)),
            adaptive_small=(("n_per_round", 500), ("max_calls", 1000)),
        )


def tasks(config: dict[str, Any], names: list[str], settings: VerdictSettings, seeds: list[int]) -> list[dict]:
    """One task per (problem, proposal, seed), the slowest first (so the pool's tail is short)."""
    problems = [(name, None) for name in names] + [(f"two_mode_{d}d", d) for d in settings.dims]
    jobs = [
        {"problem": name, "dim": dim, "proposal": proposal, "seed": seed}
        for name, dim in problems
        for proposal in PROPOSALS
        for seed in seeds
        if (name, proposal) not in settings.skipped
    ]
    cost = {"adaptive": 3, "prior": 2, "adaptive_small": 1}
    return sorted(jobs, key=lambda job: -(cost[job["proposal"]] * (job["dim"] or 3)))


def build_problem(task: dict, config: dict[str, Any], settings: VerdictSettings) -> tuple[Problem, int]:
    """The task's problem and its prior draws for ``proposal='prior'``."""
    if task["dim"] is not None:
        return two_mode_problem(task["dim"]), settings.prior_samples
    spec = config["problems"][task["problem"]]
    return problem_from_spec(task["problem"], spec), settings.paper_prior_samples or int(spec["n_prior_samples"])


def run_task(task: dict, config: dict[str, Any], settings: VerdictSettings) -> dict[str, Any]:
    """One fit, its check and its accuracy: a row."""
    import torch

    from lwflow.fitting.pipeline import fit

    torch.set_num_threads(1)
    problem, n_prior = build_problem(task, config, settings)
    counted = replace(problem, log_likelihood=CountingLikelihood(problem.log_likelihood))
    flow = config["flow"]
    model = {"arch": "realnvp", "n_modes": "auto", "n_layers": flow["n_layers"], "hidden_units": flow["hidden_units"]}
    options: dict[str, Any] = {"model": model, "training": config["training"], "seed": task["seed"]}
    if task["proposal"] == "prior":
        options |= {"n_prior_samples": n_prior, "clipping": config["clipping"]}
    else:
        adaptive = dict(settings.adaptive_small if task["proposal"] == "adaptive_small" else settings.adaptive)
        options |= {"proposal": "adaptive", "adaptive": adaptive}
    row: dict[str, Any] = dict(task)
    started = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            posterior = fit(counted, **options)
    except Exception as error:  # a refusal (ESS floor, diverged training) is a row of its own
        return row | {"verdict": "refused", "error": f"{type(error).__name__}: {str(error)[:200]}"}
    row["seconds"] = time.perf_counter() - started
    row["likelihood_calls"] = counted.log_likelihood.calls
    row["warned"] = any(issubclass(w.category, UserWarning) for w in caught)
    check = posterior.check.as_dict()
    row |= {
        key: check[key] for key in ("verdict", "pareto_k", "ess_fraction", "shift", "log_evidence", "log_evidence_se")
    }
    row |= {"fit_log_evidence": check["fit_log_evidence"], "fit_log_evidence_se": check["fit_log_evidence_se"]}
    row |= {"stop": check["stop"], "beta": check["beta"], "defensive_share": check["defensive_share"]}
    row["n_check_draws"] = check["n_draws"]
    draws = {"flow": posterior.sample(settings.n_draws, task["seed"])}
    draws["corrected"] = posterior.sample(settings.n_draws, task["seed"], corrected=True)
    return row | accuracy(problem, task["seed"], settings.n_draws, draws)


def accuracy(problem: Problem, seed: int, n: int, draws: dict[str, np.ndarray]) -> dict[str, float]:
    """Sliced W1 over the floor and the worst mode-mass error of each of ``draws`` (read -> draws),
    and of a third exact sample (``exact``): the same test on draws that are exact, which shows
    how often the test itself calls exact draws inaccurate at this size."""
    reference = Reference.of(problem, n, 10_000 + seed)
    floor = reference.floor_row(10_000 + seed, 0.001)["sliced_w1"]
    draws = draws | {"exact": problem.truth.sample(n, np.random.default_rng(30_000 + seed))}
    row = {"exact_log_evidence": reference.log_evidence()}
    for read, theta in draws.items():
        score = reference.score(theta, 0.001)
        row[f"{read}_sliced_w1_over_floor"] = score["sliced_w1"] / floor
        row[f"{read}_mode_mass_error"] = score["mode_mass_error"]
    return row


def run(
    config: dict[str, Any], names: list[str], settings: VerdictSettings, seeds: list[int], workers: int, out: Path
) -> pd.DataFrame:
    """Every task in a pool of ``workers`` processes; each row appended to ``out`` as it finishes.
    Tasks whose rows ``out`` already holds are not run again (a run cut short is resumed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    done = pd.read_csv(out) if out.exists() else pd.DataFrame(columns=["problem", "proposal", "seed"])
    finished = set(zip(done["problem"], done["proposal"], done["seed"].astype(int)))
    todo = [
        t for t in tasks(config, names, settings, seeds) if (t["problem"], t["proposal"], t["seed"]) not in finished
    ]
    rows = done.to_dict(orient="records")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_task, task, config, settings): task for task in todo}
        for future in concurrent.futures.as_completed(futures):
            try:
                row = future.result()
            except Exception:
                row = futures[future] | {"verdict": "crashed", "error": traceback.format_exc(limit=2)[-300:]}
            rows.append(row)
            _append(out, row)
            print(f"{row['problem']} {row['proposal']} seed {row['seed']}: {row.get('verdict')}", flush=True)
    return pd.DataFrame(rows)


COLUMNS = (
    "problem", "dim", "proposal", "seed", "verdict", "warned", "pareto_k", "ess_fraction", "shift", "log_evidence",
    "log_evidence_se", "fit_log_evidence", "fit_log_evidence_se", "exact_log_evidence", "stop", "beta",
    "defensive_share", "n_check_draws", "likelihood_calls", "seconds", "flow_sliced_w1_over_floor",
    "flow_mode_mass_error", "corrected_sliced_w1_over_floor", "corrected_mode_mass_error",
    "exact_sliced_w1_over_floor", "exact_mode_mass_error", "error",
)  # fmt: skip


def _append(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()
        os.fsync(handle.fileno())


def accurate(runs: pd.DataFrame, read: str = "flow") -> pd.Series:
    """Sliced W1 within :data:`GOAL`'s factor of the floor and mode masses within its error (NaN: no modes)."""
    w1 = runs[f"{read}_sliced_w1_over_floor"] <= GOAL["sliced_w1_over_floor"]
    masses = runs[f"{read}_mode_mass_error"].isna() | (runs[f"{read}_mode_mass_error"] <= GOAL["mode_mass_error"])
    return w1 & masses


def rejudged(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with each fit's verdict drawn anew from its stored numbers (today's thresholds)."""
    from lwflow.fitting.verdict import judge

    runs = runs.copy()
    checked = runs["verdict"].isin(["trusted", "reweight", "not trusted"])
    for index, row in runs[checked].iterrows():
        numbers = row[["pareto_k", "ess_fraction", "shift", "log_evidence", "log_evidence_se"]].to_dict()
        numbers |= {"n_draws": int(row["n_check_draws"]), "defensive_share": float(row["defensive_share"])}
        evidence = (row["fit_log_evidence"], row["fit_log_evidence_se"])
        stop = row["stop"] if isinstance(row["stop"], str) else None
        beta = float(row["beta"]) if pd.notna(row["beta"]) else None
        runs.loc[index, "verdict"] = judge(numbers, evidence, stop, beta).verdict
    return runs


def verdict_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Verdict x accuracy: fits per verdict whose flow draws are accurate or not, and whose
    importance-corrected draws are."""
    runs = rejudged(runs)
    runs["flow_accurate"] = accurate(runs, "flow")
    runs["corrected_accurate"] = accurate(runs, "corrected")
    order = ["trusted", "reweight", "not trusted", "refused", "crashed"]
    table = runs.groupby("verdict").agg(
        fits=("seed", "size"),
        flow_accurate=("flow_accurate", "sum"),
        corrected_accurate=("corrected_accurate", "sum"),
    )
    table["flow_inaccurate"] = table["fits"] - table["flow_accurate"]
    return table.reindex([v for v in order if v in table.index]).reset_index()


def errors(runs: pd.DataFrame) -> pd.DataFrame:
    """The fits where the verdict errs: ``trusted`` on inaccurate flow draws, ``not trusted`` on accurate ones."""
    runs = rejudged(runs)
    flow_ok = accurate(runs, "flow")
    wrong = ((runs["verdict"] == "trusted") & ~flow_ok) | ((runs["verdict"] == "not trusted") & flow_ok)
    columns = ["problem", "proposal", "seed", "verdict", "pareto_k", "ess_fraction", "shift", "stop", "beta"]
    columns += ["flow_sliced_w1_over_floor", "flow_mode_mass_error"]
    return runs.loc[wrong, columns]


SHIFT_BINS = (0.0, 0.01, 0.02, 0.03, 0.05, np.inf)


def shift_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Checked fits by the check's shift: how many, and the share whose flow draws pass the
    accuracy test (what the ``trusted`` threshold on the shift is chosen from)."""
    checked = runs[runs["verdict"].isin(["trusted", "reweight", "not trusted"])].copy()
    checked["passes"] = accurate(checked, "flow")
    checked["shift_bin"] = pd.cut(checked["shift"], SHIFT_BINS, include_lowest=True)
    table = checked.groupby("shift_bin", observed=False).agg(fits=("passes", "size"), pass_share=("passes", "mean"))
    table.index = [f"{max(b.left, 0):g} to {b.right:g}" for b in table.index]
    return table.rename_axis("shift (posterior sds)").reset_index()


def shift_correlation(runs: pd.DataFrame) -> float:
    """Spearman rank correlation of the check's shift with the flow's sliced W1 over the floor."""
    checked = runs.dropna(subset=["shift", "flow_sliced_w1_over_floor"])
    return float(checked["shift"].corr(checked["flow_sliced_w1_over_floor"], method="spearman"))


def combined(folders: list[Path], config: dict[str, Any]) -> pd.DataFrame:
    """The rows of several runs' ``verdict_runs.csv`` (a later folder's row replaces an earlier
    one's for the same fit), with the exact-draws test filled in where a run lacks it."""
    runs = pd.concat([pd.read_csv(folder / "verdict_runs.csv") for folder in folders], ignore_index=True)
    runs = runs.drop_duplicates(["problem", "proposal", "seed"], keep="last").reset_index(drop=True)
    if "exact_sliced_w1_over_floor" not in runs:
        runs["exact_sliced_w1_over_floor"] = np.nan
        runs["exact_mode_mass_error"] = np.nan
    missing = runs["exact_sliced_w1_over_floor"].isna()
    for (name, dim, seed), rows in runs[missing].groupby(["problem", "dim", "seed"], dropna=False):
        problem, _ = build_problem(
            {"problem": name, "dim": None if pd.isna(dim) else int(dim)}, config, VerdictSettings()
        )
        scores = accuracy(problem, int(seed), VerdictSettings().n_draws, {})
        runs.loc[rows.index, "exact_sliced_w1_over_floor"] = scores["exact_sliced_w1_over_floor"]
        runs.loc[rows.index, "exact_mode_mass_error"] = scores["exact_mode_mass_error"]
    return runs


def page_values(out: Path) -> dict[str, str]:
    """The values of the verdict page's template from ``out``'s tables and stamp."""
    from lwflow.evaluation.tables import markdown_table

    runs = pd.read_csv(out / "verdict_runs.csv")
    scored = runs.drop_duplicates(["problem", "seed"]).dropna(subset=["exact_sliced_w1_over_floor"])
    exact_fail = int((~accurate(scored, "exact")).sum())
    errors_table = pd.read_csv(out / "verdict_errors.csv")
    return {
        "stamp": (out / "verdict.stamp").read_text().strip(),
        "table": markdown_table(pd.read_csv(out / "verdict.csv")),
        "errors": markdown_table(errors_table) if len(errors_table) else "None.",
        "exact_fail": str(exact_fail),
        "exact_total": f"{len(scored)} (one per problem and seed)",
        "coverage": coverage(runs),
        "shift_table": markdown_table(shift_table(runs)),
        "shift_correlation": f"{shift_correlation(runs):.2f}",
    }


def coverage(runs: pd.DataFrame) -> str:
    """Which fits the runs hold: per proposal, its fits and the problems it has none of."""
    problems = sorted(set(runs["problem"]))
    parts = []
    for proposal in PROPOSALS:
        mine = runs[runs["proposal"] == proposal]
        missing = [name for name in problems if name not in set(mine["problem"])]
        parts.append(f"`{proposal}` {len(mine)} fits" + (f" (none of {', '.join(missing)})" if missing else ""))
    return "; ".join(parts)
