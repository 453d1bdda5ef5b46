"""Adaptive rounds against the samplers a scientist picks instead: nautilus and pocoMC (and
one-shot lwflow), per likelihood call, side by side in one run.

One row per (problem, method, seed): likelihood calls, wall seconds, sliced W1 and W1,avg
(with the truth-vs-truth floor in the ``exact (floor)`` row), per-mode mass and its worst
error, bridge mass, and the log-evidence error against the exact :math:`\\log Z` (box mass
over box volume).  The goal: at sliced W1 <= 1.2 x floor, worst mode-mass error <= 0.02 and
|log Z error| <= 0.05, fewer calls than both nautilus and pocoMC (:func:`goal_table`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import methods
from benchmarks.scaling import two_mode_problem
from lwflow.problems import Problem

GOAL = {"sliced_w1_over_floor": 1.2, "mode_mass_error": 0.02, "abs_log_z_error": 0.05}


@dataclass(frozen=True)
class AdaptiveBenchmarkSettings:
    """Budgets; ``quick()`` is the tiny version the test suite runs."""

    n_draws: int = 5000
    dims: tuple[int, ...] = (2, 5, 10, 20)
    adaptive: tuple[tuple[str, Any], ...] = (("n_per_round", 4000), ("max_calls", 60_000))
    anchors: bool = True
    bridge_fraction: float = 0.001
    warm_start_steps: int = 0  # > 0: also the fit with warm starts between rounds, side by side
    proposal_patience: int = 0  # > 0: also the fit whose proposal flows stop at this patience, side by side
    proposal_max_steps: int | None = None  # also the fit whose proposal flows train at most this many steps (0: all)
    bic_patience: int = 0  # > 0: also the fit whose K scan stops this many K past the lowest BIC, side by side
    tempering_round_share: float = 0.0  # > 0: also the fit whose rounds at beta < 1 draw this share of a round
    refine_draws: int | None = None  # also the fit whose final flow's base is refined on this many draws (0: none)
    refine_source: str = ""  # also the fit whose final flow's base is refined on these draws (refine.source)

    @classmethod
    def quick(cls) -> AdaptiveBenchmarkSettings:
        return cls(n_draws=300, dims=(2,), adaptive=(("n_per_round", 500), ("max_calls", 1500)), anchors=False)


def problems(named: dict[str, Problem], settings: AdaptiveBenchmarkSettings) -> dict[str, Problem]:
    """The problems given (the papers' from the config, :data:`benchmarks.hard_problems.HARD_PROBLEMS`),
    and the scaling problem in each of ``settings.dims``."""
    return named | {f"two_mode_{d}d": two_mode_problem(d) for d in settings.dims}


def method_runs(
    problem: Problem, settings: AdaptiveBenchmarkSettings, flow: dict, training: dict
) -> dict[str, Callable[[int], methods.MethodResult]]:
    """Each method as a function of the seed (for :func:`benchmarks.baselines.compare_methods`)."""
    n, adaptive = settings.n_draws, dict(settings.adaptive)
    fits: dict[int, dict[str, methods.MethodResult]] = {}  # one adaptive fit per seed, read three ways

    def adaptive_fit(seed: int, read: str) -> methods.MethodResult:
        if seed not in fits:
            fits[seed] = methods.adaptive_flow(problem, n, seed, flow, training, adaptive)
        return fits[seed][read]

    runs: dict[str, Callable[[int], methods.MethodResult]] = {
        "lwflow_adaptive": lambda seed: adaptive_fit(seed, "flow"),
        "lwflow_adaptive_weighted": lambda seed: adaptive_fit(seed, "weighted"),
        "lwflow_adaptive_corrected": lambda seed: adaptive_fit(seed, "corrected"),
    }
    variants: dict[str, dict[str, Any]] = {}  # each: its fit's settings where they differ from the default's
    if settings.warm_start_steps > 0:
        warm = {"warm_start_steps": settings.warm_start_steps}
        variants["lwflow_adaptive_warm_start"] = {"adaptive": adaptive | warm}
    if settings.proposal_patience > 0:
        patience = {"proposal_patience": settings.proposal_patience}
        variants[f"lwflow_adaptive_proposal_patience{settings.proposal_patience}"] = {"adaptive": adaptive | patience}
    if settings.proposal_max_steps is not None:
        steps = {"proposal_max_steps": settings.proposal_max_steps}
        variants[f"lwflow_adaptive_proposal_max_steps{settings.proposal_max_steps}"] = {"adaptive": adaptive | steps}
    if settings.bic_patience > 0:
        bic = {"bic_patience": settings.bic_patience}
        variants[f"lwflow_adaptive_bic_patience{settings.bic_patience}"] = {"mode_selection": bic}
    if settings.tempering_round_share > 0:
        share = {"tempering_round_share": settings.tempering_round_share}
        variants[f"lwflow_adaptive_tempering_round_share{settings.tempering_round_share:g}"] = {
            "adaptive": adaptive | share
        }
    if settings.refine_draws is not None:
        variants[f"lwflow_adaptive_refine{settings.refine_draws}"] = {"refine": {"n_draws": settings.refine_draws}}
    if settings.refine_source:
        variants[f"lwflow_adaptive_refine_{settings.refine_source}"] = {"refine": {"source": settings.refine_source}}
    for method, change in variants.items():
        runs[method] = lambda seed, options={"adaptive": adaptive} | change: methods.adaptive_flow(
            problem, n, seed, flow, training, **options
        )["flow"]
    if settings.anchors:
        runs["nautilus"] = lambda seed: methods.nautilus_sampler(problem, n, seed)
        runs["pocomc"] = lambda seed: methods.pocomc_sampler(problem, n, seed)
    return runs


def goal_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Seed means per (problem, method), the accuracy relative to the goal, and the ratio of each
    method's calls to the fewer of nautilus's and pocoMC's, and to the fewer of those of them
    that meet the goal's accuracy (equal accuracy)."""
    floors = runs[runs["method"] == "exact (floor)"].groupby("problem")["sliced_w1"].mean()
    scored = runs[runs["method"] != "exact (floor)"].copy()
    scored["sliced_w1_over_floor"] = scored["sliced_w1"] / scored["problem"].map(floors)
    scored["abs_log_z_error"] = scored["log_z_error"].abs()
    columns = ["likelihood_calls", "seconds", "sliced_w1_over_floor", "mode_mass_error", "bridge_mass"]
    grouped = scored.groupby(["problem", "method"], sort=False)
    table = grouped[[*columns, "abs_log_z_error"]].mean()
    table["n_seeds"] = grouped["seed"].nunique()
    table = table.reset_index()
    table["meets_accuracy"] = np.all([table[k] <= v for k, v in GOAL.items()], axis=0)
    anchor_rows = table[table["method"].isin(["nautilus", "pocomc"])]
    anchors = anchor_rows.groupby("problem")["likelihood_calls"].min()
    accurate = anchor_rows[anchor_rows["meets_accuracy"]].groupby("problem")["likelihood_calls"].min()
    table["calls_over_best_anchor"] = table["likelihood_calls"] / table["problem"].map(anchors)
    # at equal accuracy: against the fewer calls of the anchors that meet the goal's accuracy (NaN: none does)
    table["calls_over_accurate_anchor"] = table["likelihood_calls"] / table["problem"].map(accurate)
    return table


def accuracy_figure(runs: pd.DataFrame, path: Path) -> None:
    """One panel per problem: sliced W1 over its floor against likelihood calls, one marker per
    method and seed, the goal's accuracy as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    floors = runs[runs["method"] == "exact (floor)"].groupby("problem")["sliced_w1"].mean()  # as goal_table
    scored = runs[runs["method"] != "exact (floor)"].dropna(subset=["likelihood_calls"])
    problems = list(dict.fromkeys(scored["problem"]))
    n_methods = scored["method"].nunique()
    columns = max(1, min(n_methods, int(3.2 * len(problems) // 2.8)))  # legend entries side by side that fit
    legend_height = 0.25 * math.ceil(n_methods / columns)  # inches
    height = 3.2 + legend_height
    fig, axes = plt.subplots(1, len(problems), figsize=(3.2 * len(problems), height), squeeze=False, sharey=True)
    for ax, problem in zip(axes[0], problems):
        for method, rows in scored[scored["problem"] == problem].groupby("method", sort=False):
            ax.scatter(rows["likelihood_calls"], rows["sliced_w1"] / floors[problem], label=method, s=30)
        ax.axhline(GOAL["sliced_w1_over_floor"], color="0.5", linestyle="--", linewidth=1)
        ax.set_xlim(left=0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
        ax.set_title(problem, fontsize="medium")
        ax.set_xlabel("likelihood calls")
    axes[0, 0].set_ylabel("sliced W1 / truth-vs-truth floor")
    handles, labels = axes[0, -1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize="small")  # below: no point hidden
    fig.suptitle("Accuracy against likelihood calls (lower left is better; dashed: the goal)")
    fig.tight_layout(rect=(0, (legend_height + 0.1) / height, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def goal_verdicts(table: pd.DataFrame) -> str:
    """One markdown line per problem, from :func:`goal_table`: whether lwflow's flow draws, its
    weighted draws and its corrected draws meet the goal's accuracy, its calls against the fewer
    of the anchors' and against the fewer of those anchors that meet the accuracy, its wall time
    against nautilus's, each variant fit run beside it (its calls, flow draws and wall time), and the
    verdict (the goal: an accurate reading with fewer calls than both anchors, the corrected
    draws' extra calls counted)."""

    def accuracy(met: bool) -> str:
        return "accurate" if met else "not accurate"

    lines = []
    for problem, rows in table.groupby("problem", sort=False):
        anchors = rows[rows["method"].isin(["nautilus", "pocomc"])]
        accurate_anchors = ", ".join(anchors.loc[anchors["meets_accuracy"], "method"]) or "neither"
        flow, weighted = (rows[rows["method"] == m].iloc[0] for m in ("lwflow_adaptive", "lwflow_adaptive_weighted"))
        corrected_rows = rows[rows["method"] == "lwflow_adaptive_corrected"]
        met = (flow["meets_accuracy"] or weighted["meets_accuracy"]) and flow["calls_over_best_anchor"] < 1
        reading = (
            f"flow draws {accuracy(flow['meets_accuracy'])}, weighted draws {accuracy(weighted['meets_accuracy'])}"
        )
        if len(corrected_rows):
            corrected = corrected_rows.iloc[0]
            met = met or (corrected["meets_accuracy"] and corrected["calls_over_best_anchor"] < 1)
            reading += (
                f", corrected draws {accuracy(corrected['meets_accuracy'])} "
                f"({corrected['likelihood_calls']:.0f} calls with their own)"
            )
        equal = flow["calls_over_accurate_anchor"]
        nautilus = anchors.loc[anchors["method"] == "nautilus", "seconds"].tolist()
        wall = f" Wall time {flow['seconds']:.0f} s" + "".join(
            f", {flow['seconds'] / seconds:.2f}x nautilus's ({seconds:.0f} s)" for seconds in nautilus
        )
        readings = ("lwflow_adaptive", "lwflow_adaptive_weighted", "lwflow_adaptive_corrected")
        variants = rows[rows["method"].str.startswith("lwflow_adaptive_") & ~rows["method"].isin(readings)]
        side_by_side = "".join(
            f" `{v['method']}`: {v['likelihood_calls']:.0f} calls, {v['calls_over_best_anchor']:.2f}x, "
            f"flow draws {accuracy(v['meets_accuracy'])}, {v['seconds']:.0f} s"
            + "".join(f" ({v['seconds'] / seconds:.2f}x nautilus's)" for seconds in nautilus)
            + "."
            for _, v in variants.iterrows()
        )
        lines.append(
            f"- **{problem}** ({int(rows['n_seeds'].min())} seeds): goal **{'met' if met else 'not met'}**. "
            f"lwflow {flow['likelihood_calls']:.0f} calls, {flow['calls_over_best_anchor']:.2f}x the fewer of "
            f"the anchors'; {reading}; anchors accurate: {accurate_anchors}"
            + (f" ({equal:.2f}x the fewer of theirs)." if pd.notna(equal) else ".")
            + wall
            + "."
            + side_by_side
        )
    return "\n".join(lines)
