"""``python -m benchmarks [which ...] [--quick]``: run benchmarks, write
``results/benchmarks/<name>.csv`` and ``results/benchmarks/summary.md``.

* ``throughput``: lwflow's trainer against a plain normflows loop (:mod:`benchmarks.throughput`);
* ``baselines``: dynesty, emcee, importance resampling and likelihood-weighted flows on the
  2D and 3D three-mode problems (:mod:`benchmarks.baselines`);
* ``scaling``: the same on a two-mode mixture in 2, 5 and 10 dimensions (:mod:`benchmarks.scaling`);
* ``adaptive``: adaptive rounds against nautilus and pocoMC on paper A's three problems, paper
  B's rings and the two-mode mixture in 2-20 dimensions (:mod:`benchmarks.adaptive`);
* ``verdict``: every fit's check and verdict against its accuracy on the exact posterior, over
  the benchmark problems, seeds and proposals (:mod:`benchmarks.verdict`);
* ``pool``: a likelihood of 5 ms per point over 1 and 2 worker processes (``fit(pool=...)``,
  :mod:`benchmarks.pool`);
* ``one_parameter``: one-parameter posteriors, lwflow's NSF against pocoMC and dynesty (nautilus
  refuses them), scored by the KS distance to the exact CDF (:mod:`benchmarks.one_parameter`);
* ``jobs``: job-level costs side by side: NSF's spline with zuko's and lwflow's softmax, a
  job-like workload with glibc's default heap and the workflow's (:mod:`benchmarks.job_costs`);
* ``reproduction``: per-rule time of a workflow run from its ``benchmark:`` files, and with
  ``--reproduce-in DIR`` the wall time of a fresh ``snakemake --cores N`` run there.

Settings (flow, training, clipping, problems) come from ``--config`` (the workflow's).
``--quick`` is the tiny version the test suite runs; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
import yaml

from benchmarks import (
    adaptive,
    baselines,
    job_costs,
    methods,
    one_parameter,
    paper_b_recipe,
    pool,
    reproduction,
    scaling,
    throughput,
    verdict,
)
from benchmarks.hard_problems import HARD_PROBLEMS
from lwflow.artefacts import lwflow_commit, machine_description
from lwflow.evaluation.pages import render_page
from lwflow.evaluation.tables import markdown_table
from lwflow.problems import problem_from_spec

NAMES = (
    "throughput",
    "baselines",
    "scaling",
    "adaptive",
    "verdict",
    "pool",
    "one_parameter",
    "jobs",
    "reproduction",
    "paper_b_recipe",
)
ADAPTIVE_PROBLEMS = ("gmm2d_3mode", "gmm3d_3mode", "nongauss3d", "rings")
BASELINE_PROBLEMS = ("gmm2d_3mode", "gmm3d_3mode")


def machine_line() -> str:
    """Date, lwflow's commit and the machine (as artefacts' sidecars record them), with the
    versions and threads that set the speed."""
    commit = lwflow_commit()
    return (
        f"{datetime.date.today().isoformat()}, commit {commit[:7] + commit[40:]}, {machine_description()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} torch threads"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", default=list(NAMES), help=f"any of {', '.join(NAMES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the test suite's version)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    parser.add_argument("--results", type=Path, default=Path("results"), help="a workflow run's results folder")
    parser.add_argument(
        "--default-page",
        type=Path,
        default=Path("docs/results/paper_b.md"),
        help="paper_b_recipe: the default run's Table 2 page, beside the --results run of configs/paper_b_recipe.yaml",
    )
    parser.add_argument("--reproduce-in", type=Path, help="an empty folder for a fresh, timed workflow run")
    parser.add_argument("--cores", type=int, default=8, help="snakemake --cores of the timed run")
    parser.add_argument(
        "--problems",
        nargs="*",
        help="adaptive: config problems or benchmarks.hard_problems' (default: paper A's three and rings)",
    )
    parser.add_argument("--dims", type=int, nargs="*", help="adaptive: dimensions of the two-mode problem")
    parser.add_argument(
        "--runs", type=Path, nargs="+", help="adaptive: combine these earlier runs' folders instead of running"
    )
    parser.add_argument(
        "--adaptive-page",
        default="adaptive",
        help="adaptive: the name of its table, page and figure (default adaptive)",
    )
    parser.add_argument(
        "--warm-start-steps",
        type=int,
        default=0,
        help="adaptive: also the fit whose rounds' flows start from the last round's for this many steps",
    )
    parser.add_argument(
        "--proposal-patience",
        type=int,
        default=0,
        help="adaptive: also the fit whose proposal flows stop at this patience (adaptive.proposal_patience)",
    )
    parser.add_argument(
        "--proposal-max-steps",
        type=int,
        default=None,
        help="adaptive: also the fit whose proposal flows train at most this many steps (adaptive.proposal_max_steps)",
    )
    parser.add_argument(
        "--bic-patience",
        type=int,
        default=0,
        help="adaptive: also the fit whose K scan stops this many K past the lowest BIC (mode_selection.bic_patience)",
    )
    parser.add_argument(
        "--tempering-round-share",
        type=float,
        default=0.0,
        help="adaptive: also the fit whose rounds at beta < 1 draw this share of a round (tempering_round_share)",
    )
    parser.add_argument(
        "--refine-draws",
        type=int,
        help="adaptive: also the fit whose final flow's base is refined on this many draws (refine.n_draws; 0: none)",
    )
    parser.add_argument(
        "--refine-source",
        choices=["rounds", "fresh"],
        help="adaptive: also the fit whose final flow's base is refined on these draws (refine.source)",
    )
    parser.add_argument("--workers", type=int, default=1, help="verdict: fits run side by side (processes)")
    parser.add_argument(
        "--skip", nargs="*", default=[], metavar="PROBLEM:PROPOSAL", help="verdict: fits not to run (slow ones)"
    )
    parser.add_argument(
        "--pages", type=Path, help="where the results pages go (default: docs/results; with --quick: none)"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.which) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {', '.join(NAMES)}")
    torch.set_num_threads(args.threads)
    if {"baselines", "scaling", "adaptive"} & set(args.which) and not args.runs:
        methods.import_libraries()  # before any method is timed: no first run pays an import
    config = yaml.safe_load(args.config.read_text())
    flow, training, clipping = config["flow"], config["training"], config["clipping"]
    if args.quick:
        flow = {**flow, "n_layers": 2, "hidden_units": 16}  # every key of the config's flow, as a full run
        training = {**training, "max_steps": 40, "eval_every": 20}
    args.out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {}
    stamped: dict[str, str] = {}  # a table's stamp where it is not this run's (combined runs)

    if "throughput" in args.which:
        settings = throughput.ThroughputSettings.quick() if args.quick else throughput.ThroughputSettings()
        problem = problem_from_spec("gmm2d_3mode", config["problems"]["gmm2d_3mode"])
        tables["throughput"], curve = throughput.compare_trainers(problem, flow, training, clipping, settings)
        curve.to_csv(args.out / "throughput_curve.csv", index=False)
    settings = baselines.BaselineSettings.quick() if args.quick else baselines.BaselineSettings()
    if "baselines" in args.which:
        problems = {p: problem_from_spec(p, config["problems"][p]) for p in BASELINE_PROBLEMS}
        runs = baselines.compare(problems, args.seeds, settings, flow, training, clipping)
        runs.to_csv(args.out / "baselines_runs.csv", index=False)
        tables["baselines"] = baselines.summarise(runs)
    if "scaling" in args.which:
        dims = [2, 5] if args.quick else [2, 5, 10]
        runs = scaling.scaling(dims, args.seeds, settings, flow, training, clipping)
        runs.to_csv(args.out / "scaling_runs.csv", index=False)
        tables["scaling"] = baselines.summarise(runs)
    if "adaptive" in args.which:
        adaptive_settings = (
            adaptive.AdaptiveBenchmarkSettings.quick() if args.quick else adaptive.AdaptiveBenchmarkSettings()
        )
        if args.dims is not None:
            adaptive_settings = replace(adaptive_settings, dims=tuple(args.dims))
        adaptive_settings = replace(
            adaptive_settings,
            warm_start_steps=args.warm_start_steps,
            proposal_patience=args.proposal_patience,
            proposal_max_steps=args.proposal_max_steps,
            bic_patience=args.bic_patience,
            tempering_round_share=args.tempering_round_share,
            refine_draws=args.refine_draws,
            refine_source=args.refine_source or "",
        )
        names = args.problems if args.problems is not None else [] if args.quick else list(ADAPTIVE_PROBLEMS)
        if args.runs:  # each run's rows as they were measured, side by side per seed in that run
            runs = pd.concat([pd.read_csv(folder / "adaptive_runs.csv") for folder in args.runs], ignore_index=True)
            stamps = [f"- `{folder}`: {(folder / 'summary.md').read_text().splitlines()[2]}" for folder in args.runs]
            stamped["adaptive"] = "the runs combined, each with its own stamp:\n\n" + "\n".join(stamps)
        else:
            problems = {
                p: HARD_PROBLEMS[p]() if p in HARD_PROBLEMS else problem_from_spec(p, config["problems"][p])
                for p in names
            }
            runs = baselines.compare_methods(
                adaptive.problems(problems, adaptive_settings),
                args.seeds,
                adaptive_settings.n_draws,
                adaptive_settings.bridge_fraction,
                lambda problem: adaptive.method_runs(problem, adaptive_settings, flow, training),
            )
        runs.to_csv(args.out / "adaptive_runs.csv", index=False)
        tables["adaptive"] = adaptive.goal_table(runs)
        if not args.quick:  # where the workflow's tables live, beside the papers'
            Path("results/tables").mkdir(parents=True, exist_ok=True)
            tables["adaptive"].to_csv(f"results/tables/{args.adaptive_page}.csv", index=False)
        adaptive.accuracy_figure(runs, args.out / "adaptive.png")
    if "verdict" in args.which:
        verdict_settings = verdict.VerdictSettings.quick() if args.quick else verdict.VerdictSettings()
        if args.dims is not None:
            verdict_settings = replace(verdict_settings, dims=tuple(args.dims))
        skipped = tuple(tuple(pair.split(":", 1)) for pair in args.skip)
        verdict_settings = replace(verdict_settings, skipped=verdict_settings.skipped + skipped)
        if args.runs:
            runs = verdict.combined(args.runs, config)
            stamps = [f"- `{folder}`: {(folder / 'verdict.stamp').read_text().strip()}" for folder in args.runs]
            stamped["verdict"] = "the runs combined, each with its own stamp:\n\n" + "\n".join(stamps)
        else:
            names = (
                args.problems
                if args.problems is not None
                else ["gmm2d_3mode"]
                if args.quick
                else list(verdict.PAPER_PROBLEMS)
            )
            runs = verdict.run(
                config | {"flow": flow, "training": training},
                names,
                verdict_settings,
                args.seeds,
                args.workers,
                args.out / "verdict_runs.csv",
            )
        runs.to_csv(args.out / "verdict_runs.csv", index=False)
        tables["verdict"] = verdict.verdict_table(runs)
        tables["verdict_errors"] = verdict.errors(runs)
    if "pool" in args.which:
        pool_settings = pool.PoolBenchmarkSettings.quick() if args.quick else pool.PoolBenchmarkSettings()
        tables["pool"] = pool.compare(pool_settings, flow, training)
    if "one_parameter" in args.which:
        settings_1d = one_parameter.OneParameterSettings.quick() if args.quick else one_parameter.OneParameterSettings()
        runs = one_parameter.compare(settings_1d, args.seeds, flow, training)
        runs.to_csv(args.out / "one_parameter_runs.csv", index=False)
        tables["one_parameter"] = one_parameter.summarise(runs)
    if "jobs" in args.which:
        tables["jobs"] = job_costs.compare(
            job_costs.JobCostSettings.quick() if args.quick else job_costs.JobCostSettings()
        )
    if "reproduction" in args.which:
        results = args.results
        if args.reproduce_in is not None:
            wall = reproduction.timed_run(args.reproduce_in, args.config, args.cores)
            results = args.reproduce_in / "results"
        tables["reproduction"] = reproduction.rule_times(results)
        if args.reproduce_in is not None:
            job_seconds = tables["reproduction"]["total_s"].sum()
            run = {"cores": args.cores, "cpus": os.cpu_count(), "wall_s": wall, "job_s": job_seconds}
            tables["reproduction_run"] = pd.DataFrame(
                [run | {"lower_bound_s": job_seconds / min(args.cores, os.cpu_count())}]
            )

    if "paper_b_recipe" in args.which:
        recipe = paper_b_recipe.recipe_nll(args.results / "tables/paper_b_table2.csv")
        tables["paper_b_recipe"] = paper_b_recipe.claim_table(recipe, paper_b_recipe.page_nll(args.default_page))
        (args.out / "paper_b_recipe_experts.txt").write_text(paper_b_recipe.experts_against_published(recipe))
        stamped["paper_b_recipe"] = paper_b_recipe.run_stamp(args.results / "tables/paper_b_table2.csv")
        shutil.copy(args.results / "tables/paper_b_table2.md", args.out / "paper_b_recipe_table2.md")

    stamp = machine_line() + (" (quick: numbers mean nothing)" if args.quick else "")
    for name, table in tables.items():
        table.to_csv(args.out / f"{name}.csv", index=False)
        (args.out / f"{name}.stamp").write_text(stamped.get(name, stamp) + "\n")
    write_summary(args.out, args.quick)
    pages = args.pages if args.pages is not None or args.quick else Path("docs/results")
    if pages is not None:
        write_pages(args.out, pages, tables, args.adaptive_page)


def write_pages(out: Path, pages: Path, tables: dict[str, pd.DataFrame], adaptive_page: str = "adaptive") -> None:
    """The results pages from ``out``'s tables and stamps (templates in ``benchmarks/pages``):
    ``{adaptive_page}.md`` with its figure when this run made the adaptive table,
    ``verdict.md`` and ``one_parameter.md`` when it made theirs, ``benchmarks.md`` when it made any other."""
    templates = Path(__file__).resolve().parent / "pages"
    pages.mkdir(parents=True, exist_ok=True)

    benchmarks_template = (templates / "benchmarks.md").read_text()
    page = pages / "benchmarks.md"
    before = rendered_sections(benchmarks_template, page.read_text()) if page.exists() else {}

    def section(name: str) -> str:
        if not (out / f"{name}.csv").exists():  # as the page had it, with its own stamp
            return before.get(name) or f"Not measured in `{out}`."
        stamp = (out / f"{name}.stamp").read_text().strip()
        return f"Measured: {stamp}\n\n{markdown_table(pd.read_csv(out / f'{name}.csv'))}"

    if "adaptive" in tables:
        values = {
            "stamp": (out / "adaptive.stamp").read_text().strip(),
            "verdicts": adaptive.goal_verdicts(tables["adaptive"]),
            "table": markdown_table(tables["adaptive"]),
            "name": adaptive_page,
        }
        (pages / f"{adaptive_page}.md").write_text(render_page((templates / "adaptive.md").read_text(), values))
        shutil.copy(out / "adaptive.png", pages / f"{adaptive_page}.png")
    if "verdict" in tables:
        (pages / "verdict.md").write_text(render_page((templates / "verdict.md").read_text(), verdict.page_values(out)))
    if "one_parameter" in tables:
        values = {"stamp": (out / "one_parameter.stamp").read_text().strip()}
        values["table"] = markdown_table(tables["one_parameter"])
        page = render_page((templates / "one_parameter.md").read_text(), values)
        (pages / "one_parameter.md").write_text(page)
    if "paper_b_recipe" in tables:
        values = {"stamp": (out / "paper_b_recipe.stamp").read_text().strip()}
        values |= {
            "table": markdown_table(tables["paper_b_recipe"]),
            "verdict": paper_b_recipe.claim_sentence(tables["paper_b_recipe"]),
        }
        values["recipe_table"] = (out / "paper_b_recipe_table2.md").read_text().strip()
        values["experts"] = (out / "paper_b_recipe_experts.txt").read_text().strip()
        (pages / "paper_b_recipe.md").write_text(render_page((templates / "paper_b_recipe.md").read_text(), values))
    own_pages = ("adaptive", "verdict", "one_parameter", "paper_b_recipe")
    others = [name for name in (*NAMES, "reproduction_run") if name not in own_pages]
    if any(name in tables for name in others):
        values = {name: section(name) for name in others} | {"stamp": "each table below with its own."}
        page.write_text(render_page(benchmarks_template, values))


def rendered_sections(template: str, page: str) -> dict[str, str]:
    """What each table section ``$name`` of ``template`` was in ``page``, a page rendered from it
    (each begins ``Measured:`` or ``Not measured``); empty where the page does not fit the
    template (the template changed since).  A run of some benchmarks keeps the other tables of
    the page as they were measured, each with its own stamp, where a fresh checkout has none of
    their ``--out`` files."""
    parts = re.split(r"\$(\w+)", template)
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>(?:Measured|Not measured).*?)" if part != "stamp" else ".*?"
        for i, part in enumerate(parts)
    )
    match = re.fullmatch(pattern, page, flags=re.DOTALL)
    return match.groupdict() if match else {}


def write_summary(out: Path, quick: bool) -> None:
    """``summary.md`` from every benchmark table in ``out`` (also those of earlier runs)."""
    sections = [f"# Benchmarks\n\n{machine_line()}{' (quick: numbers mean nothing)' if quick else ''}"]
    for name in (*NAMES, "reproduction_run"):
        if (out / f"{name}.csv").exists():
            sections.append(f"## {name}\n\n{markdown_table(pd.read_csv(out / f'{name}.csv'))}")
    (out / "summary.md").write_text("\n\n".join(sections) + "\n")
    print((out / "summary.md").read_text())


if __name__ == "__main__":
    main()
