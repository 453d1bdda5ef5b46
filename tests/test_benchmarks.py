"""The benchmark harness in its tiny version (``--quick``), so that it cannot rot."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_runs import ROOT, smoke_config, snakemake_env

from benchmarks.reproduction import rule_times, timed_run
from lwflow.settings import CheckConfig, RefineConfig


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("benchmarks")
    benchmarks = ["throughput", "baselines", "scaling", "adaptive", "pool", "jobs"]
    command = [sys.executable, "-W", "ignore", "-m", "benchmarks", *benchmarks, "--quick"]
    command += ["--seeds", "0", "--out", str(out), "--pages", str(out / "pages")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_throughput_compares_both_trainers_and_reports_the_ratio(quick_run):
    table = pd.read_csv(quick_run / "throughput.csv").set_index("trainer")
    assert {"plain normflows", "lwflow K=1", "lwflow K=3", "speed-up: lwflow K=1 over plain"} <= set(table.index)
    assert (table.loc[["plain normflows", "lwflow K=1"], "steps_per_second"] > 0).all()
    ratio = table.loc["lwflow K=1", "steps_per_second"] / table.loc["plain normflows", "steps_per_second"]
    assert table.loc["speed-up: lwflow K=1 over plain", "steps_per_second"] == pytest.approx(ratio)
    curve = pd.read_csv(quick_run / "throughput_curve.csv")
    assert set(curve["trainer"]) == {"plain normflows", "lwflow K=1", "lwflow K=3"}


def test_pool_times_one_and_two_workers_and_checks_their_draws_equal(quick_run):
    table = pd.read_csv(quick_run / "pool.csv")
    assert set(zip(table["proposal"], table["workers"])) == {
        ("prior", 1),
        ("prior", 2),
        ("adaptive", 1),
        ("adaptive", 2),
    }
    assert table["same_draws_as_serial"].all()
    assert (table["speedup"] > 0).all() and (table.loc[table["workers"] == 1, "speedup"] == 1).all()


def test_jobs_measures_each_change_before_and_after(quick_run):
    table = pd.read_csv(quick_run / "jobs.csv")
    assert len(table) == 3 and table["measurement"].str.contains("NSF spline").any()
    assert (table[["before", "after"]] > 0).all().all()
    assert table["speed_up"].to_numpy() == pytest.approx((table["before"] / table["after"]).to_numpy())


def test_baselines_score_every_method_against_the_exact_posterior(quick_run):
    runs = pd.read_csv(quick_run / "baselines_runs.csv")
    methods = {"exact (floor)", "importance", "flow_K1", "flow_K3", "dynesty_50", "emcee_32"}
    for problem in ("gmm2d_3mode", "gmm3d_3mode"):
        assert set(runs.loc[runs["problem"] == problem, "method"]) == methods
    scored = runs[runs["method"] != "exact (floor)"]
    assert (scored["likelihood_calls"] > 0).all() and (scored["seconds"] > 0).all()
    assert scored[["w1_avg", "sliced_w1", "mode_mass_error", "bridge_mass"]].notna().all().all()
    dynesty = runs[runs["method"] == "dynesty_50"]
    assert dynesty["log_z_error"].abs().lt(3 * dynesty["log_z_err_reported"] + 0.5).all()
    assert (quick_run / "summary.md").read_text().count("## ") == 6


def test_adaptive_scores_the_rounds_against_the_goal(quick_run):
    runs = pd.read_csv(quick_run / "adaptive_runs.csv")
    adaptive = runs[runs["method"] == "lwflow_adaptive"]
    # the budget, the base refinement's draws and the check's behind the verdict (counted as every fit's are)
    budget = 1500 + RefineConfig().n_draws + CheckConfig().n_draws
    assert len(adaptive) == 1 and adaptive["likelihood_calls"].iloc[0] <= budget
    assert adaptive[["sliced_w1", "mode_mass_error", "log_z_error", "pareto_k"]].notna().all().all()
    weighted = runs[runs["method"] == "lwflow_adaptive_weighted"]  # the same fit, its weighted draws resampled
    assert weighted["likelihood_calls"].tolist() == adaptive["likelihood_calls"].tolist()
    assert weighted["log_z_error"].tolist() == adaptive["log_z_error"].tolist()
    assert weighted["sliced_w1"].notna().all() and weighted["weights_ess"].gt(0).all()
    corrected = runs[runs["method"] == "lwflow_adaptive_corrected"]  # importance-corrected: 4 fresh draws per draw
    extra = (corrected["likelihood_calls"].to_numpy() - adaptive["likelihood_calls"].to_numpy()).tolist()
    assert extra == [4 * 300] and corrected["distinct_draws"].between(1, 300).all()
    table = pd.read_csv(quick_run / "adaptive.csv")
    floor = runs.loc[runs["method"] == "exact (floor)", "sliced_w1"].mean()
    ratio = table.loc[table["method"] == "lwflow_adaptive", "sliced_w1_over_floor"].iloc[0]
    assert ratio == pytest.approx(adaptive["sliced_w1"].iloc[0] / floor)
    assert (quick_run / "adaptive.png").stat().st_size > 10_000  # the accuracy-against-calls figure


def test_a_verdict_line_gives_the_wall_time_of_the_default_and_of_each_variant_against_nautilus():
    from benchmarks.adaptive import goal_verdicts

    def row(method, calls, seconds, accurate=True):
        return {"problem": "p", "method": method, "likelihood_calls": calls, "seconds": seconds, "n_seeds": 3,
                "meets_accuracy": accurate, "calls_over_best_anchor": calls / 20_000,
                "calls_over_accurate_anchor": calls / 20_000}  # fmt: skip

    table = pd.DataFrame(
        [
            row("lwflow_adaptive", 15_000, 40.0),
            row("lwflow_adaptive_weighted", 15_000, 40.0),
            row("lwflow_adaptive_proposal_max_steps250", 16_000, 25.0, accurate=False),
            row("nautilus", 25_000, 50.0),
            row("pocomc", 20_000, 20.0),
        ]
    )
    line = goal_verdicts(table)
    assert "goal **met**" in line and "Wall time 40 s, 0.80x nautilus's (50 s)." in line
    assert "`lwflow_adaptive_proposal_max_steps250`: 16000 calls, 0.80x, flow draws not accurate, 25 s (0.50x" in line


@pytest.mark.slow
def test_the_results_pages_hold_every_table_of_the_run_with_its_stamp(quick_run):
    adaptive = (quick_run / "pages/adaptive.md").read_text()
    stamp = (quick_run / "adaptive.stamp").read_text().strip()
    assert f"Measured: {stamp}" in adaptive and "(quick: numbers mean nothing)" in stamp
    assert "| problem | method | likelihood_calls |" in adaptive
    assert re.search(r"goal \*\*(met|not met)\*\*\. lwflow \d+ calls, [\d.]+x the fewer", adaptive)
    assert (quick_run / "pages/adaptive.png").read_bytes() == (quick_run / "adaptive.png").read_bytes()
    others = (quick_run / "pages/benchmarks.md").read_text()
    for name in ("throughput", "baselines", "scaling", "jobs"):
        assert (quick_run / f"{name}.stamp").read_text().strip() in others
    assert "| trainer |" in others and "Not measured in" in others  # reproduction was not run
    assert "$" not in adaptive + others


@pytest.mark.slow  # nautilus and pocoMC at their defaults: 45 s
def test_the_anchor_samplers_run_and_return_their_evidence():
    from benchmarks import methods
    from benchmarks.scaling import two_mode_problem

    problem = two_mode_problem(2)
    exact = problem.truth.log_mass - np.log(16.0**2)
    for run in (methods.nautilus_sampler, methods.pocomc_sampler):
        result = run(problem, 1000, 0)
        assert result.draws.shape == (1000, 2) and 5000 < result.likelihood_calls < 100_000
        assert abs(result.extra["log_z"] - exact) < 0.2


def test_scaling_grows_the_dimension_and_records_the_prior_ess(quick_run):
    runs = pd.read_csv(quick_run / "scaling_runs.csv")
    assert set(runs["dim"]) == {2, 5}
    ess = runs[runs["method"] == "importance"].set_index("dim")["prior_ess"]
    assert ess[5] < ess[2] / 10  # prior sampling degrades geometrically with the dimension


@pytest.mark.slow  # a fresh workflow run: 14 s
def test_reproduction_times_a_fresh_run_and_aggregates_its_rule_benchmarks(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", str(snakemake_env(tmp_path)["SLURM_CONF"]))  # see snakemake_env
    config = smoke_config()
    config["seeds"] = [0]
    config["problems"] = {"gmm2d_1mode": {**config["problems"]["gmm2d_1mode"], "n_prior_samples": 5000}}
    config["experiments"] = [{"problems": ["gmm2d_1mode"], "archs": ["realnvp"], "modes": [1]}]
    config["outputs"] = {"paper_a": False, "paper_b": False, "auto_modes": False}
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    wall = timed_run(tmp_path / "run", config_path, cores=2)
    table = rule_times(tmp_path / "run" / "results").set_index("rule")
    assert {"sample_prior", "evaluate_likelihood", "train_flow", "truth_reference", "model_metrics"} <= set(table.index)
    assert (table["jobs"] == 1).all()
    assert table["share"].sum() == pytest.approx(1.0)
    assert wall > table["total_s"].max()  # the whole run outlasts its longest job


def test_mode_masses_of_every_kind_of_benchmark_target():
    import yaml

    from benchmarks.scoring import Reference
    from lwflow.problems import problem_from_spec

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    expected = {"nongauss3d": [1 / 3] * 3, "rings": [0.5, 0.5], "gmm2d_3mode": [1 / 3] * 3}
    for name, shares in expected.items():
        reference = Reference.of(problem_from_spec(name, config["problems"][name]), 200, 0)
        assert reference.true_masses == pytest.approx(shares, abs=0.01)
        assert reference.masses(reference.samples).sum() == pytest.approx(1)


@pytest.mark.parametrize("name", ["mirror_bananas_6d", "box_faces_10d", "three_unequal_6d", "heavy_tails_4d"])
def test_each_hard_problem_has_an_exact_box_mass_and_its_mode_shares(name):
    """The box's exact mass against the share of 100 000 exact draws of the target inside it
    (within 4 standard errors), and the modes' shares against their construction."""
    from benchmarks.hard_problems import HARD_PROBLEMS, MirrorBananas
    from benchmarks.scoring import Reference

    problem = HARD_PROBLEMS[name]()
    draws = problem.truth.target.sample(100_000, np.random.default_rng(1))
    inside = problem.prior.contains(draws).mean()
    mass = np.exp(problem.truth.log_mass)
    assert abs(inside - mass) < 4 * np.sqrt(mass * (1 - mass) / len(draws)) + 1e-4
    shares = {"three_unequal_6d": [0.6, 0.3, 0.1], "box_faces_10d": [0.513, 0.487]}.get(name, [0.5, 0.5])
    reference = Reference.of(problem, 200, 0)
    assert reference.true_masses == pytest.approx(shares, abs=0.01)
    assert len(problem.truth.sample(500, np.random.default_rng(2))) == 500
    assert np.isfinite(problem.log_likelihood(draws[:10])).all()
    if isinstance(problem.truth.target, MirrorBananas):  # the quadrature has converged
        low, high = problem.prior.support()
        assert problem.truth.target.box_mass(low, high, nodes=800) == pytest.approx(mass, abs=1e-12)


def test_one_parameter_scores_each_fit_against_the_quadrature_and_records_a_refusal():
    from dataclasses import replace

    from scipy.stats import norm

    from benchmarks import one_parameter

    log_z, cdf, sample = one_parameter.exact("bimodal_1d")
    assert abs(log_z - np.log(0.1)) < 1e-6 and abs(cdf(np.array([0.0]))[0] - 0.3 - 0.7 * norm.cdf(-3)) < 1e-6
    settings = replace(one_parameter.OneParameterSettings.quick(), samplers=("nautilus",))
    flow, training = {"n_layers": 2, "hidden_units": 16}, {"max_steps": 40, "eval_every": 20}
    runs = one_parameter.compare(settings, [0], flow, training, names=("bimodal_1d",))
    assert list(runs["method"]) == ["exact draws", "lwflow_nsf_prior", "lwflow_nsf_adaptive", "nautilus"]
    fits = runs[runs["method"].str.startswith("lwflow")]
    assert (fits["ks"] < 0.2).all() and (fits["log_z_error"].abs() < 0.2).all()
    assert runs.iloc[-1]["verdict"].startswith("refused: Cannot run Nautilus with less than 2 parameters")
    table = one_parameter.summarise(runs)
    assert list(table["seeds"]) == [1, 1, 1, 1]


def test_paper_b_recipe_says_per_target_whether_amfvi_beats_every_expert(tmp_path):
    """The claim per recipe, from a run's long Table 2 and the default run's page; the page
    parser reads the page the workflow writes (docs/results/paper_b.md)."""
    from benchmarks import paper_b_recipe
    from lwflow.reproduction import paper_b

    rows = []
    for k, problem in enumerate(paper_b.PROBLEMS):  # AMF-VI beats the experts on the even targets only
        nll = {"amfvi": 2.0 + (k % 2), "realnvp": 2.5, "maf": 2.6, "rbig": 2.7}
        rows += [
            {"row": f"{problem}/{m}", "metric": "nll", "mean": v, "std": np.nan, "n_seeds": 1} for m, v in nll.items()
        ]
        rows.append({"row": f"{problem}/amfvi", "metric": "kl", "mean": 9.0, "std": np.nan, "n_seeds": 1})
    pd.DataFrame(rows).to_csv(tmp_path / "table.csv", index=False)
    ours = paper_b_recipe.page_nll(ROOT / "docs/results/paper_b.md")
    assert set(ours) >= {f"{p}/{m}" for p in paper_b.PROBLEMS for m in ("amfvi", *paper_b_recipe.EXPERTS)}
    recipe = paper_b_recipe.recipe_nll(tmp_path / "table.csv")
    table = paper_b_recipe.claim_table(recipe, ours)
    assert table["recipe_claim_holds"].tolist() == [k % 2 == 0 for k in range(len(paper_b.PROBLEMS))]
    assert table.loc[0, "recipe_best_expert"] == "realnvp 2.5000"
    experts = paper_b_recipe.experts_against_published(recipe)  # published: above 2.7 but on the two moons
    assert "on 12 of 15 (target, expert) pairs with a finite published value" in experts
    assert experts.endswith(
        "not below: two_moons/realnvp (2.500 against 2.343), two_moons/maf (2.600 against 1.661), "
        "two_moons/rbig (2.700 against 1.741)."
    )
    assert paper_b_recipe.claim_sentence(table).startswith(
        "AMF-VI's NLL is below every one of the paper's three experts' on 3 of 6"
    )


def test_a_run_of_some_benchmarks_keeps_the_pages_other_tables_with_their_stamps():
    """benchmarks.md is rendered from one template: the sections a run did not measure are read
    back from the page as it was (a fresh checkout has none of their tables), and a page that no
    longer fits the template gives nothing back."""
    from benchmarks.__main__ import rendered_sections
    from lwflow.evaluation.pages import render_page

    template = (ROOT / "benchmarks/pages/benchmarks.md").read_text()
    names = [name for name in re.findall(r"\$(\w+)", template) if name != "stamp"]
    sections = {name: f"Measured: {name}, commit {i:07d}\n\n| a |\n|---|\n| {i} |\n" for i, name in enumerate(names)}
    page = render_page(template, sections | {"stamp": "each table below with its own."})
    assert len(names) > 5 and rendered_sections(template, page) == sections
    assert rendered_sections(template.replace("## ", "### ", 1), page) == {}
