"""The Snakemake workflow: the smoke config end to end, and bad configs rejected up front."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from workflow_runs import (
    ADAPTIVE_ROUNDS,
    FinishedRun,
    flip_one_bit,
    round_reports,
    run_snakemake,
    smoke_config,
    workflow_copy,
)

import lwflow
from lwflow.artefacts import TamperedInputError


def test_a_failed_shared_run_fails_the_first_test_that_reads_it_and_skips_the_rest(tmp_path):
    run = FinishedRun.made(tmp_path)  # an empty folder: Snakemake finds no Snakefile
    with pytest.raises(pytest.fail.Exception, match="(?s)the run failed \\(rc 1\\).*Snakefile"):
        run.get()
    with pytest.raises(pytest.skip.Exception, match="failed in an earlier test"):
        run.get()


def test_smoke_run_writes_every_table_with_the_long_format(smoke_run):
    for number in (1, 2, 3):
        table = pd.read_csv(smoke_run / f"results/tables/paper_a_table{number}.csv")
        assert {"table", "row", "metric", "published", "mean", "std", "n_seeds", "floor"} <= set(table.columns)
        assert set(table["metric"]) == {"kl", "w1_avg", "sliced_w1", "bridge_mass"}
        assert (table["n_seeds"] == 2).all()
        assert table["mean"].notna().all()
        assert (smoke_run / f"results/tables/paper_a_table{number}.md").read_text().startswith("| row |")


def test_smoke_run_writes_every_figure(smoke_run):
    for number in range(2, 9):
        for ext in ("png", "pdf"):
            path = smoke_run / f"results/figures/paper_a_fig{number}.{ext}"
            assert path.stat().st_size > 1000
    assert (smoke_run / "results/figures/loss_gmm2d_3mode.png").exists()


def test_every_artefact_has_a_sidecar_with_hashes(smoke_run):
    artefacts = [p for p in (smoke_run / "results").rglob("*") if p.is_file() and p.suffix in {".npz", ".pt", ".csv"}]
    assert len(artefacts) > 50
    for artefact in artefacts:
        sidecar = json.loads(Path(f"{artefact}.json").read_text())
        assert sidecar["step"] and len(sidecar["sha256"]) == 64
    model_sidecar = json.loads(
        (smoke_run / "results/models/likelihood/gmm2d_3mode/realnvp_K3/seed0/model.pt.json").read_text()
    )
    assert set(model_sidecar["inputs"]) == {
        "results/prior/gmm2d_3mode/seed0.npz",
        "results/weights/gmm2d_3mode/seed0.npz",
        "results/weights/gmm2d_3mode/seed0_report.json",  # the evidence and ESS of its summary
    }
    assert model_sidecar["config"]["flow"]["n_modes"] == 3
    assert model_sidecar["lwflow"]["version"] == "0.1.0"


def test_clip_report_and_benchmarks_are_written(smoke_run):
    report = json.loads((smoke_run / "results/weights/gmm2d_3mode/seed0_report.json").read_text())
    assert report["ess_after"] <= report["n_samples"] and report["ess_before"] > 0
    assert (smoke_run / "results/benchmarks/train_flow/likelihood/gmm2d_3mode/realnvp_K3/seed0.tsv").exists()


def test_a_block_max_steps_sets_its_models_step_budget(smoke_run):
    def last_step(model):
        return int(pd.read_csv(smoke_run / f"results/models/{model}/seed0/loss.csv")["step"].iloc[-1])

    assert last_step("samples/two_moons/nsf_K1") == 20  # the block's max_steps
    assert last_step("likelihood/gmm2d_1mode/realnvp_K1") == 40  # training.max_steps


def test_nsf_stacks_flow_nsf_layers_and_the_others_flow_n_layers(smoke_run):
    def layers(model):
        payload = torch.load(smoke_run / f"results/models/samples/two_moons/{model}/seed0/model.pt", weights_only=True)
        return payload["spec"]["n_layers"]

    assert (layers("nsf_K1"), layers("maf_K1"), layers("realnvp_K1")) == (1, 2, 2)


def test_every_model_of_the_figure_seed_has_a_diagnostic_pair_plot(smoke_run):
    plots = list((smoke_run / "results/figures/models").rglob("seed*.png"))
    # outputs.pair_plots: figure_seed (seed 0): paper A's 11 models, gmm2d_3mode's K=auto (auto_modes),
    # two_moons' 4 experts, gmm2d_3mode's rbig and gmm2d_2mode's adaptive K=2
    assert len(plots) == 11 + 1 + 4 + 1 + 1
    assert {p.name for p in plots} == {"seed0.png"}


@pytest.mark.parametrize("local_cores", ["auto", 1])
def test_local_runs_cap_cores_at_the_usable_cpus(tmp_path, local_cores):
    config = smoke_config()
    config["execution"] = {"local_cores": local_cores}
    cap = len(os.sched_getaffinity(0)) if local_cores == "auto" else local_cores
    workdir = workflow_copy(tmp_path, config)
    # cap + 1 independent jobs (up to the smoke config's six prior draws), so an uncapped run starts too many
    priors = [f"results/prior/{p}/seed{s}.npz" for p in ("gmm2d_1mode", "gmm2d_2mode", "gmm2d_3mode") for s in (0, 1)]
    result = run_snakemake(workdir, "--cores", str(cap + 1), *priors[: cap + 1], timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"running at most {cap} jobs at once, not {cap + 1}" in result.stderr
    assert re.search(rf"Provided resources: .*local_job_slots\b.*\b{cap}\b", result.stderr)
    started_at_once = [int(n) for n in re.findall(r"Execute (\d+) jobs", result.stderr)]
    assert started_at_once and max(started_at_once) <= cap


def test_smoke_run_estimates_mixture_weights_and_scores_the_mixtures(smoke_run):
    for fit, problem, experts in (("samples", "two_moons", 4), ("likelihood", "gmm2d_3mode", 2)):
        modes = "K1" if fit == "samples" else "K3"
        mixture = smoke_run / f"results/mixtures/{fit}/{problem}/{modes}/seed0"
        weights = json.loads((mixture / "weights.json").read_text())
        for method in ("ema", "em"):
            assert len(weights[method]) == experts and sum(weights[method].values()) == pytest.approx(1.0)
        trajectory = pd.read_csv(mixture / "trajectory.csv")
        assert len(trajectory) == 5 + 1  # uniform start + one update per fresh batch
        metrics = json.loads((mixture / "metrics.json").read_text())
        assert {"nll", "kl", "w2", "mmd_u", "mmd_b", "bridge_mass", "hole_mass", "n_eff"} <= set(metrics["ema"])
    table = pd.read_csv(smoke_run / "results/tables/amfvi_likelihood.csv")
    assert {"gmm2d_3mode/K3/amfvi", "gmm2d_3mode/K3/em_mixture", "gmm2d_3mode/K3/rbig"} <= set(table["row"])
    assert table.loc[table["metric"] == "nll", "floor"].notna().all()
    assert (table.loc[table["metric"] == "hole_mass", "floor"] == 0).all()  # the truth has no holes


def test_smoke_run_sets_auto_modes_beside_one_and_the_true_count(smoke_run):
    table = pd.read_csv(smoke_run / "results/tables/auto_modes.csv")
    rows = set(table["row"])
    assert rows == {"gmm2d_3mode/K=auto", "gmm2d_3mode/K=1", "gmm2d_3mode/K=3 (true)"}
    assert {"nll", "kl", "w1_avg", "sliced_w1", "bridge_mass", "hole_mass"} <= set(table["metric"])
    auto = table[table["row"] == "gmm2d_3mode/K=auto"]
    assert auto["chosen_k"].iloc[0].split() == ["3", "3"]  # three separated modes, both seeds
    assert (table["true_modes"] == 3).all() and (table["density_maxima"] == 3).all()


def test_the_smoke_tree_passes_the_audit(smoke_run):
    result = subprocess.run(
        [sys.executable, "-m", "lwflow.audit", "results"], cwd=smoke_run, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert ", 0 problems found" in result.stdout


def test_html_report_holds_tables_and_figures_with_captions(smoke_run):
    result = run_snakemake(smoke_run, "--report", "report.html", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    html = (smoke_run / "report.html").read_text(errors="replace")
    for name in ("paper_a_table2.html", "paper_a_fig6.png", "loss_gmm2d_3mode.png"):
        assert name in html
    assert "spurious bridge" in html
    assert "What the DAG does" in html and "How to read the tables" in html  # the landing page


def test_the_results_pages_are_rendered_from_the_tables_and_stamped_by_their_jobs(smoke_run):
    pages = sorted(p.name for p in (smoke_run / "results/pages").glob("*.md"))
    assert pages == ["amfvi_likelihood.md", "auto_modes.md", "paper_a.md"]
    page = (smoke_run / "results/pages/paper_a.md").read_text()
    for number in (1, 2, 3):
        assert (smoke_run / f"results/tables/paper_a_table{number}.md").read_text().strip() in page
    made = json.loads((smoke_run / "results/tables/paper_a_table2.csv.json").read_text())
    stamp = f"Tables made: {made['finished'][:10]}, commit {made['lwflow']['commit'][:12]}, {made['machine']}."
    assert stamp in page
    assert len(re.findall(r"Reproduced mean below the published value in \d+ of \d+ cells", page)) == 3
    assert "$" not in page
    html = (smoke_run / "results/tables/paper_a_table2.html").read_text()
    assert html.count("<tr") == 4  # a header and three rows


@pytest.mark.browser
def test_the_report_shows_its_landing_page_a_table_and_a_figure_in_headless_chromium(smoke_run):
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "this test opens the report in Chromium from the OS packages: apt-get install chromium"
    result = run_snakemake(smoke_run, "--report", "browser_report.html", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = (smoke_run / "browser_report.html").as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(report)
        expect(page.get_by_text("What the DAG does")).to_be_visible(timeout=60_000)  # the landing page
        rules = page.evaluate("rulegraph_spec.data[0].values.map(node => node.rule)")
        families = {"propose_round", "weigh_round", "model_metrics_*", "sample_models_*"}
        assert len(rules) == len(set(rules)) and families <= set(rules)
        page.screenshot(path=smoke_run / "report_rulegraph.png")  # one node per rule: look at it
        page.get_by_text("Paper A tables", exact=True).click()
        page.locator("label", has_text="table").click()
        page.locator("tr", has_text="paper_a_table2").locator("a[iconname=eye]").click()
        table = page.frame_locator("iframe").locator("table.lwflow")
        expect(table.locator("tr")).to_have_count(4)  # rendered HTML: a header and three models
        expect(table).to_contain_text("Model-2D3")
        page.goto(report)
        page.get_by_text("Paper A figures", exact=True).click()
        page.locator("tr", has_text="paper_a_fig6").locator("a[iconname=eye]").click()
        figure = page.locator("img").last
        expect(figure).to_be_visible()
        width, height = figure.evaluate("image => [image.naturalWidth, image.naturalHeight]")
        assert width > 500 and height > 200  # the PNG decoded
        page.goto(report)
        page.get_by_text("Posterior summaries", exact=True).click()
        page.locator("tr", has_text="gmm2d_3mode").locator("a[iconname=eye]").first.click()
        summary = page.frame_locator("iframe").locator("table.lwflow")
        expect(summary.locator("th", has_text="verdict")).to_be_visible(timeout=30_000)  # every model's verdict
        expect(summary.locator("td", has_text=re.compile(r"^(trusted|reweight|not trusted)$")).first).to_be_visible()
        log_z = page.frame_locator("iframe").locator("th", has_text="log Z").bounding_box()
        assert log_z["x"] + log_z["width"] <= 1280  # the summary page fits the screen: log Z in view
        page.screenshot(path=smoke_run / "report_summary.png")
        browser.close()


@pytest.mark.parametrize(
    "edit, rerun",
    [
        (lambda c: c["rbig"].update(max_layers=3), {"train_flow": "rbig"}),
        (lambda c: c.setdefault("mode_selection", {}).update(k_max=5), {"train_flow": "auto"}),
        (lambda c: c["training"].update(learning_rate=0.001), {"train_flow": "realnvp|maf|nsf"}),
        (lambda c: c["clipping"].update(min_ess=30), {}),
        (lambda c: c["problems"]["gmm2d_3mode"].update(n_target_samples=500), {}),
        (lambda c: c["evaluation"].update(n_samples=1500), {"sample_models_*": "."}),
        (lambda c: c.update(refine={"n_draws": 500}), {"train_flow": "fit=(likelihood|adaptive)"}),
    ],
    ids=["rbig", "mode_selection", "learning_rate", "min_ess", "n_target_samples", "n_samples", "refine"],
)
def test_a_setting_reruns_only_the_jobs_that_read_it(smoke_run, tmp_path, edit, rerun):
    config = smoke_config()
    edit(config)
    (tmp_path / "edited.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(smoke_run, "-n", "--cores", "1", "--configfile", str(tmp_path / "edited.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    jobs = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):\n(?:    .*\n)*?    wildcards: (.*)$", output, re.M)
    if not rerun:
        assert "Nothing to be done" in output, output[-2000:]
    for rule, pattern in rerun.items():  # train_flow stands for the adaptive rounds' train_round too
        names = (rule, "train_round" if rule == "train_flow" else rule)
        family = rule.removesuffix("*")  # sample_models_* stands for every generated sample_models_<group> rule
        ran = [w for name, w in jobs if name in names or (family != rule and name.startswith(family))]
        assert ran and all(re.search(pattern, w) for w in ran), (rule, ran)
    if "train_flow" not in rerun:
        assert not any(rule in ("train_flow", "train_round") for rule, _ in jobs), jobs
    assert not any(rule in ("sample_prior", "evaluate_likelihood", "clip_weights") for rule, _ in jobs)


def test_a_bad_edit_on_a_finished_tree_is_refused_before_anything_is_deleted(smoke_run, tmp_path):
    config = smoke_config()
    config["problems"]["gmm2d_2mode"]["covariances"][0] = [[1.0, 2.0], [2.0, 1.0]]  # not positive definite
    (tmp_path / "edited.yaml").write_text(yaml.safe_dump(config))
    kept = [smoke_run / f"results/{kind}/gmm2d_2mode/seed0.npz" for kind in ("prior", "truth")]
    before = [path.stat().st_mtime_ns for path in kept]
    result = run_snakemake(smoke_run, "--cores", "1", "--configfile", str(tmp_path / "edited.yaml"))
    assert result.returncode != 0 and "problems.gmm2d_2mode" in result.stderr and "positive definite" in result.stderr
    assert [path.stat().st_mtime_ns for path in kept] == before


def test_rerun_has_nothing_to_do(smoke_run):
    result = run_snakemake(smoke_run, "-n", "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_adaptive_rounds_are_stages_with_their_own_artefacts_until_one_stops(smoke_run):
    reports = round_reports(smoke_run)
    assert len(reports) >= 2 and [r["round"] for r in reports] == list(range(len(reports)))
    assert [r["next"] for r in reports[:-1]] == ["train"] * (len(reports) - 1) and reports[-1]["next"] != "train"
    assert reports[-1]["calls"] == sum(r["n"] for r in reports) <= 4000  # the block's max_calls
    assert reports[0]["n"] == 500  # round 0 tempers: tempering_round_share 0.5 of the block's n_per_round
    betas = [r["beta"] for r in reports]
    assert betas == sorted(betas) and 0 < betas[0] < 1
    for r, report in enumerate(reports):
        folder = smoke_run / ADAPTIVE_ROUNDS / f"round{r}"
        names = ["draws.npz", "likelihood.npz", "pool.npz", "report.json"]
        names += ["model.pt", "loss.csv", "modes.json"] if report["next"] == "train" else []
        assert all((folder / name).is_file() and (folder / f"{name}.json").is_file() for name in names)
        assert not (folder / "model.pt").exists() or report["next"] == "train"
    summary = json.loads((smoke_run / "results/summary/adaptive/gmm2d_2mode/realnvp_K2/seed0.json").read_text())
    assert summary["log_evidence"] == reports[-1]["log_evidence"]
    assert (smoke_run / "results/metrics/adaptive/gmm2d_2mode/realnvp_K2/seed0.json").is_file()


def test_the_workflow_rounds_and_the_library_rounds_give_the_same_posterior(smoke_run):
    """One code path: lwflow.fitting.rounds.adaptive_rounds with the settings the jobs recorded
    gives the workflow's pooled draws, weights, evidence and final flow exactly, and the final
    flow's base refinement (lwflow.fitting.refine) the workflow's refined flow."""
    from lwflow.fitting.refine import refine_base
    from lwflow.fitting.rounds import adaptive_rounds, evidence_importance_draws
    from lwflow.problems import problem_from_spec
    from lwflow.settings import AdaptiveConfig, ModelConfig, ModeSelectionConfig, RefineConfig, TrainConfig, settings_of
    from lwflow.streams import seed_for

    model_dir = smoke_run / "results/models/adaptive/gmm2d_2mode/realnvp_K2/seed0"
    recorded = json.loads((model_dir / "model.pt.json").read_text())["config"]
    adaptive = json.loads((smoke_run / ADAPTIVE_ROUNDS / "round0/report.json.json").read_text())["config"]["adaptive"]
    problem = problem_from_spec("gmm2d_2mode", recorded["problem"])
    result = adaptive_rounds(
        problem,
        AdaptiveConfig(**adaptive),
        settings_of(ModelConfig, recorded["flow"]),
        0,
        settings_of(TrainConfig, recorded["training"] | {"device": "cpu"}),
        settings_of(ModeSelectionConfig, recorded["mode_selection"]),
        recorded["rbig"],
    )
    last = len(round_reports(smoke_run)) - 1
    pool = np.load(smoke_run / ADAPTIVE_ROUNDS / f"round{last}/pool.npz")
    np.testing.assert_array_equal(pool["theta"], result.pool.theta)
    np.testing.assert_array_equal(pool["log_weights"], result.log_weights)
    assert round_reports(smoke_run)[-1]["log_evidence"] == result.log_evidence
    refine = settings_of(RefineConfig, recorded["refine"])
    draws = evidence_importance_draws(result.pool)  # read where refine.source is rounds
    final, record = refine_base(result.fitted.model, problem, refine, 0, result.rounds[-1]["beta"], draws)
    assert record["applied"] and record["source"] == refine.source
    assert json.loads((model_dir / "model.pt.json").read_text())["refinement"] == record
    samples = np.load(model_dir / "samples.npz")["samples"]
    np.testing.assert_array_equal(samples, final.sample(len(samples), seed_for(0, "model_samples")))


def test_a_model_folder_opens_as_the_posterior_a_fit_returns(smoke_run, tmp_path):
    """lwflow.load_posterior on a workflow model folder: the same Posterior as lwflow.fit gives
    (density, evidence, verdict, summary, ArviZ export), every file checked against its sidecar."""
    folder = smoke_run / "results/models/adaptive/gmm2d_2mode/realnvp_K2/seed0"
    posterior = lwflow.load_posterior(folder)
    drawn = np.load(folder / "samples.npz")
    assert np.array_equal(posterior.log_prob(drawn["samples"]), drawn["log_q"])
    summary = json.loads((smoke_run / "results/summary/adaptive/gmm2d_2mode/realnvp_K2/seed0.json").read_text())
    assert posterior.log_evidence == summary["log_evidence"] and posterior.verdict == summary["verdict"]
    assert posterior.diagnostics["n_likelihood_calls"] == summary["n_likelihood_calls"]
    assert posterior.diagnostics["refinement"]["applied"] and "verdict:" in repr(posterior.summary(n=500))
    assert posterior.to_inference_data(n=100).posterior["theta_1"].shape == (1, 100)
    damaged = tmp_path / "results/models/adaptive/gmm2d_2mode/realnvp_K2/seed0"
    shutil.copytree(folder, damaged)
    shutil.copytree(smoke_run / "results/summary", tmp_path / "results/summary")
    flip_one_bit(damaged / "model.pt")
    with pytest.raises(TamperedInputError, match="model.pt.*changed after it was made.*snakemake --cores 1 --force"):
        lwflow.load_posterior(damaged)
    with pytest.raises(ValueError, match="not a model folder"):
        lwflow.load_posterior(tmp_path)
    exact = lwflow.load_posterior(next((smoke_run / "results/models/samples").glob("*/*/seed0")))
    assert np.isnan(exact.log_evidence) and "nan" not in exact.summary(n=200).headline_text()  # fitted to exact draws


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["experiments"][0].update(modes=[0]), "modes"),
        (lambda c: c["experiments"][0].update(problems=["nonexistent"]), "nonexistent"),
        (lambda c: c["problems"]["gmm2d_1mode"].update(kind="mystery"), "kind"),
        (lambda c: c["problems"]["gmm2d_1mode"].update(radii=[1.0]), "problems.gmm2d_1mode: .* unknown keys"),
        (
            lambda c: c["problems"]["gmm2d_1mode"].update(likelihood_chunk=4),
            "problems.gmm2d_1mode.likelihood_chunk: not a key of a problem; did you mean 'likelihood_chunks'",
        ),
        (lambda c: c["problems"]["gmm2d_2mode"].update(means=[["a", 1], [6, 3]]), "problems.gmm2d_2mode: .* means"),
        (lambda c: c["problems"]["gmm2d_2mode"].update(means=[[-6, 3]]), "one 2x2 matrix per mean"),
        (lambda c: c["problems"]["gmm2d_1mode"].update(bounds=[6, -6]), "bounds must be"),
        (lambda c: c["problems"]["gmm2d_1mode"].update(bounds=[20, 30]), "problems.gmm2d_1mode: .* widen the box"),
        (lambda c: c.update(trainig={"max_steps": 3}), "line [0-9]+: trainig: not a key of the config; did you mean"),
        (
            lambda c: c["problems"].update(
                mine={"kind": "user", "target": "no_such_module:problem", "n_prior_samples": 1000}
            ),
            "no_such_module",
        ),
    ],
)
def test_bad_config_is_rejected_before_any_job(tmp_path, edit, message):
    """Through Snakemake: one case of each check the workflow runs when it reads its config (the
    schema, the plan, each problem built, a user module imported); the other cases of the same
    checks run in-process in test_plan.py."""
    config = smoke_config()
    edit(config)
    workdir = workflow_copy(tmp_path, config)
    result = run_snakemake(workdir, "--cores", "1", timeout=120)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr)
    assert not (workdir / "results").exists()
