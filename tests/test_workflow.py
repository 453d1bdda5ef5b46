"""The Snakemake workflow: the smoke config end to end, and bad configs rejected up front."""

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import lwflow
from lwflow.artefacts import TamperedInputError

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def workflow_copy(tmp_path: Path, config: dict) -> Path:
    """The workflow in a temporary directory with ``config`` as its config.yaml."""
    for name in ("Snakefile", "workflow", "profiles", "envs"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def smoke_config() -> dict:
    return yaml.safe_load((ROOT / "tests" / "config" / "smoke.yaml").read_text())


def snakemake_env(workdir: Path, slurm: bool = False) -> dict[str, str]:
    """Environment of a test run: user problems live beside the config.  Local runs point
    ``SLURM_CONF`` at an empty file: the SLURM plugin runs ``scontrol show config`` when it is
    imported, which waits 9-60 s for a controller whenever slurm-client is installed (as the
    SLURM test leaves it) but no controller runs; with an empty config it fails at once."""
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    if not slurm:
        empty = workdir / ".empty-slurm.conf"
        empty.touch()
        env["SLURM_CONF"] = str(empty)
    return env


def run_snakemake(workdir: Path, *args: str, timeout: int = 900, slurm: bool = False) -> subprocess.CompletedProcess:
    """Snakemake in its own process group: a run that outlasts ``timeout`` is killed with every
    process it started, so no test leaves one behind."""
    command = SNAKEMAKE + list(args)
    with subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=snakemake_env(workdir, slurm),
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


TORCH_IMPORT_SECONDS = 1.5  # `import torch` on this project's 2-core machine when it is quiet


@functools.cache
def machine_pace() -> float:
    """How many times slower than when quiet this machine runs now: a fresh ``import torch``
    timed against :data:`TORCH_IMPORT_SECONDS` (each workflow job pays it), at least 1."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return max(1.0, (time.perf_counter() - start) / TORCH_IMPORT_SECONDS)


class FinishedRun:
    """A workflow run that every test of a module reads: it runs once; when it fails (or
    outlasts 600 s times the machine's pace) the first test that needs it fails with Snakemake's
    message and the pace, and the rest skip, naming it, instead of repeating the failure."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.failure, self.reported = workdir, None, False
        timeout = round(600 * machine_pace())
        try:
            result = run_snakemake(workdir, "--cores", "2", "--quiet", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.failure = f"the run did not finish in {timeout} s ({machine_pace():.1f} x the quiet pace)"
        else:
            if result.returncode != 0:
                self.failure = f"the run failed (rc {result.returncode}): {result.stderr[-4000:]}"

    def get(self) -> Path:
        if self.failure is None:
            return self.workdir
        if self.reported:
            pytest.skip(f"the workflow run this test reads failed in an earlier test of {self.workdir.name}")
        self.reported = True
        pytest.fail(self.failure)


@pytest.fixture(scope="module")
def smoke_outcome(tmp_path_factory) -> FinishedRun:
    return FinishedRun(workflow_copy(tmp_path_factory.mktemp("smoke"), smoke_config()))


@pytest.fixture
def smoke_run(smoke_outcome) -> Path:
    return smoke_outcome.get()


def test_a_failed_shared_run_fails_the_first_test_that_reads_it_and_skips_the_rest(tmp_path):
    run = FinishedRun(tmp_path)  # an empty folder: Snakemake finds no Snakefile
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
    result = run_snakemake(workdir, "--cores", str(cap + 1), "results/prior/gmm2d_1mode/seed0.npz", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"running at most {cap} jobs at once, not {cap + 1}" in result.stderr
    assert re.search(rf"Provided cores: {cap}\b", result.stderr)


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
        assert len(rules) == len(set(rules)) and {"propose_round", "weigh_round", "model_metrics_*"} <= set(rules)
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
        (lambda c: c["evaluation"].update(n_samples=1500), {"sample_model": "."}),
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
        ran = [wildcards for name, wildcards in jobs if name in (rule, "train_round" if rule == "train_flow" else rule)]
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


ADAPTIVE_ROUNDS = "results/rounds/gmm2d_2mode/realnvp_K2/seed0"


def round_reports(workdir: Path) -> list[dict]:
    rounds = sorted((workdir / ADAPTIVE_ROUNDS).glob("round*"), key=lambda path: int(path.name[5:]))
    return [json.loads((path / "report.json").read_text()) for path in rounds]


def test_adaptive_rounds_are_stages_with_their_own_artefacts_until_one_stops(smoke_run):
    reports = round_reports(smoke_run)
    assert len(reports) >= 2 and [r["round"] for r in reports] == list(range(len(reports)))
    assert [r["next"] for r in reports[:-1]] == ["train"] * (len(reports) - 1) and reports[-1]["next"] != "train"
    assert reports[-1]["calls"] == 1000 * len(reports) <= 4000  # the block's n_per_round and max_calls
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
    from lwflow.fitting.model_fit import ModelConfig, ModeSelectionConfig
    from lwflow.fitting.refine import RefineConfig, refine_base
    from lwflow.fitting.rounds import AdaptiveConfig, adaptive_rounds
    from lwflow.fitting.train import TrainConfig
    from lwflow.problems import problem_from_spec
    from lwflow.settings import settings_of
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
    final, record = refine_base(result.fitted.model, problem, refine, 0, result.rounds[-1]["beta"])
    assert record["applied"] and json.loads((model_dir / "model.pt.json").read_text())["refinement"] == record
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


USER_MODEL = """
import numpy as np
import lwflow
from lwflow.problems import GaussianMixture, TruncatedToBox

def make_problem(width, names, observations):
    centres = np.loadtxt(observations, delimiter=",", ndmin=2)
    box = lwflow.UniformBox([-5, -5], [5, 5])
    mixture = GaussianMixture(centres, [width * np.eye(2)] * len(centres), np.ones(len(centres)))
    return lwflow.Problem("bimodal", box, mixture.log_prob, truth=TruncatedToBox(mixture, box), parameter_names=names)
"""


@pytest.fixture(scope="module")
def user_outcome(tmp_path_factory) -> FinishedRun:
    """A user problem from a factory with args and a data file, bringing its exact posterior."""
    config = smoke_config()
    config["seeds"] = [0]
    config["problems"] = {
        "bimodal": {
            "kind": "user",
            "target": "my_model:make_problem",
            "args": {"width": 0.25, "names": ["mass", "spin"]},
            "data": {"observations": "data/centres.csv"},
            "n_prior_samples": 20000,
        }
    }
    config["experiments"] = [{"problems": ["bimodal"], "archs": ["realnvp"], "modes": ["auto"]}]
    config["outputs"] = {"paper_a": False, "paper_b": False}
    workdir = workflow_copy(tmp_path_factory.mktemp("user"), config)
    (workdir / "my_model.py").write_text(USER_MODEL)
    (workdir / "data").mkdir()
    (workdir / "data/centres.csv").write_text("-2,0\n2,0\n")
    return FinishedRun(workdir)


@pytest.fixture
def user_run(user_outcome) -> Path:
    return user_outcome.get()


def test_the_report_of_a_user_run_says_what_was_fitted_and_how_to_read_it(user_run, tmp_path):
    """A run of one's own problems gets a landing page about them (no papers, no published values)."""
    result = run_snakemake(user_run, "--report", str(tmp_path / "report.html"), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (tmp_path / "report.html").read_text(errors="replace")
    assert "What was fitted" in html and "my_model:make_problem" in html and "width=0.25" in html
    assert "realnvp with base modes auto, proposal prior" in html and "How to read it" in html
    assert "published value" not in html and "What the DAG does" not in html


def test_a_user_problem_with_args_data_and_truth_gets_metrics_and_a_summary(user_run):
    model = user_run / "results/models/likelihood/bimodal/realnvp_Kauto/seed0"
    assert json.loads((model / "modes.json").read_text())["n_modes"] == 2  # base_modes: auto
    metrics = json.loads((user_run / "results/metrics/likelihood/bimodal/realnvp_Kauto/seed0.json").read_text())
    assert metrics["kl"] < 0.5 and "bridge_mass" in metrics  # the truth= it brought is used
    summary = json.loads((user_run / "results/summary/likelihood/bimodal/realnvp_Kauto/seed0.json").read_text())
    assert [p["parameter"] for p in summary["parameters"]] == ["mass", "spin"]  # args reached the factory
    assert summary["parameters"][0]["mean"] == pytest.approx(0, abs=0.3)
    assert summary["log_evidence"] < 0 and summary["log_evidence_se"] > 0
    sidecar = json.loads((user_run / "results/prior/bimodal/seed0.npz.json").read_text())
    assert set(sidecar["inputs"]) == {"my_model.py"}  # the prior draws read the module, not the data
    chunk = json.loads((user_run / "results/likelihood/bimodal/seed0/chunk0.npz.json").read_text())
    assert {"my_model.py", "data/centres.csv"} <= set(chunk["inputs"])
    assert sidecar["lwflow"]["version"] and sidecar["lwflow"]["commit"] != "unknown"
    assert (user_run / "results/summary/bimodal.csv").exists()


def dry_run_jobs(workdir: Path) -> set[str]:
    result = run_snakemake(workdir, "-n", "--cores", "1", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-3000:]
    return set(re.findall(r"^(\w+)\s+\d+$", result.stdout + result.stderr, re.M)) - {"total", "job"}


def audit(workdir: Path) -> str:
    from lwflow.audit import main

    os.chdir(workdir)
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["results", "--all"])
    return out.getvalue()


def test_editing_the_user_module_or_its_data_reruns_the_likelihood_and_flags_the_posterior_stale(user_run):
    assert dry_run_jobs(user_run) == set()
    module, data = user_run / "my_model.py", user_run / "data/centres.csv"
    original = module.read_text()
    module.write_text(original + "# edited\n")
    rerun = dry_run_jobs(user_run)
    assert {"sample_prior", "evaluate_likelihood", "train_flow", "problem_summary"} <= rerun
    report = audit(user_run)
    assert "results/prior/bimodal/seed0.npz: input my_model.py changed" in report
    assert "results/summary/likelihood/bimodal/realnvp_Kauto/seed0.json: stale" in report
    module.write_text(original)
    data.write_text("-2,0\n2.5,0\n")
    rerun = dry_run_jobs(user_run)  # the prior draws do not depend on the data
    assert {"evaluate_likelihood", "train_flow"} <= rerun and "sample_prior" not in rerun
    assert "input data/centres.csv changed" in audit(user_run)


def test_a_config_of_your_own_stands_alone(user_run, tmp_path):
    """--configfile replaces the default config.yaml: a user problem named like a built-in
    (banana) inherits none of its keys, and only what the file names is scheduled."""
    workdir = workflow_copy(tmp_path, yaml.safe_load((ROOT / "config.yaml").read_text()))
    shutil.copytree(user_run / "data", workdir / "data")
    shutil.copy(user_run / "my_model.py", workdir)
    user = {"kind": "user", "target": "my_model:make_problem", "n_prior_samples": 1000}
    user |= {"args": {"width": 0.5, "names": ["a", "b"]}, "data": {"observations": "data/centres.csv"}}
    mine = {"seeds": [0], "problems": {"banana": user}}
    mine["experiments"] = [{"problems": ["banana"], "archs": ["realnvp"], "modes": [1]}]
    (workdir / "mine.yaml").write_text(yaml.safe_dump(mine))
    result = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", "mine.yaml", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout + result.stderr, re.M))
    assert counts["train_flow"] == "1" and int(counts["total"]) <= 12  # not both papers' grids
    prior = "results/prior/banana/seed0.npz"
    assert run_snakemake(workdir, prior, "--cores", "1", "--quiet", "all", "--configfile", "mine.yaml").returncode == 0
    recorded = json.loads((workdir / f"{prior}.json").read_text())["config"]["problem"]
    assert recorded == user  # nothing of the built-in banana (and n_target_samples only where target draws are made)


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


def processes(*needles: str) -> dict[int, str]:
    """Processes other than this one whose command line or working directory holds a needle:
    pid -> command line."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if int(entry.name) != os.getpid() and any(n in argv or cwd.startswith(n) for n in needles):
            found[int(entry.name)] = argv or f"(cwd {cwd})"
    return found


def job_processes(workdir: Path) -> list[str]:
    """The command lines of the running jobs of the Snakemake run in ``workdir``."""
    return list(processes(f"{workdir}/.snakemake/scripts").values())


def run_and_kill(workdir: Path, ready) -> dict[Path, int]:
    """Run the workflow and SIGKILL Snakemake alone once ``ready()`` holds: its running jobs must
    stop themselves within seconds (lwflow.stages.orphans).  The artefacts finished by then
    (sidecar written 3 s before the kill), with their mtimes."""
    process = subprocess.Popen(
        SNAKEMAKE + ["--cores", "2", "--quiet"],
        cwd=workdir,
        env=snakemake_env(workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while not ready() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(4)  # let Snakemake record the first jobs as complete
    while not job_processes(workdir) and time.time() < deadline:  # kill while a job runs
        time.sleep(0.05)
    assert job_processes(workdir), "no job was running at the kill"
    os.kill(process.pid, signal.SIGKILL)  # Snakemake alone, as an out-of-memory kill would
    process.wait()
    killed_at = time.time()
    while job_processes(workdir) and time.time() < killed_at + 20:
        time.sleep(0.2)
    outlived = job_processes(workdir)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left, so that no test leaves it behind
    assert not outlived, f"jobs outlived their Snakemake: {outlived}"
    return {
        path: path.stat().st_mtime_ns
        for sidecar in (workdir / "results").rglob("*.json")
        if sidecar.stat().st_mtime < killed_at - 3 and (path := Path(str(sidecar)[: -len(".json")])).is_file()
    }


def resume(workdir: Path, finished: dict[Path, int]) -> None:
    """Rerun after a kill; no finished artefact may be computed again."""
    assert run_snakemake(workdir, "--unlock").returncode == 0  # a hard kill leaves Snakemake's lock behind
    result = run_snakemake(workdir, "--cores", "2", "--quiet")
    assert result.returncode == 0, result.stderr[-4000:]
    recomputed = [str(p) for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime]
    assert recomputed == []


def test_a_killed_run_resumes_without_recomputing_finished_artefacts(tmp_path):
    config = smoke_config()
    config["seeds"] = [0]
    # six models on two cores, killed soon after the first is done: on a fast, idle machine two
    # models and a 4 s wait could leave the grid finished before the kill
    config["experiments"] = [{"problems": ["gmm2d_2mode", "gmm2d_3mode"], "archs": ["realnvp"], "modes": [1, 2, 3]}]
    config["outputs"] = {"paper_a": False, "paper_b": False, "auto_modes": False}
    workdir = workflow_copy(tmp_path, config)
    finished = run_and_kill(workdir, lambda: any((workdir / "results/models").rglob("samples.npz.json")))
    assert any(p.name == "samples.npz" for p in finished)
    summaries = [workdir / f"results/summary/{problem}.csv" for problem in ("gmm2d_2mode", "gmm2d_3mode")]
    assert not all(path.exists() for path in summaries)  # the grid really was cut short
    resume(workdir, finished)
    assert all(path.exists() for path in summaries)

    # then one model's draws are corrupted: the scoring job of its group refuses them, and the
    # other model's metrics of that group survive the failed job (Snakemake restores them)
    samples = workdir / "results/models/likelihood/gmm2d_2mode/realnvp_K1/seed0/samples.npz"
    intact = workdir / "results/metrics/likelihood/gmm2d_2mode/realnvp_K2/seed0.json"
    before = intact.read_bytes()
    flip_one_bit(samples)
    result = run_snakemake(workdir, "--cores", "1")
    assert result.returncode != 0
    assert "samples.npz was changed after it was made" in result.stdout + result.stderr
    assert intact.read_bytes() == before
    audit = subprocess.run([sys.executable, "-m", "lwflow.audit", "results"], cwd=workdir, capture_output=True)
    audit = audit.stdout.decode()
    assert str(intact.relative_to(workdir)) not in audit and "realnvp_K1/seed0/samples.npz" in audit


def test_adaptive_rounds_killed_mid_round_resume_at_that_round(tmp_path, smoke_run):
    """Killed while round 2 runs, a rerun keeps rounds 0 and 1 and ends where an uninterrupted run does."""
    config = smoke_config()
    config["seeds"] = [0]
    config["experiments"] = [block for block in config["experiments"] if block.get("proposal") == "adaptive"]
    config["outputs"] = {"paper_a": False, "paper_b": False}
    workdir = workflow_copy(tmp_path, config)
    trained = workdir / ADAPTIVE_ROUNDS / "round1/model.pt.json"
    finished = run_and_kill(workdir, trained.exists)
    kept = {p.relative_to(workdir / ADAPTIVE_ROUNDS).parts[0] for p in finished if ADAPTIVE_ROUNDS in str(p)}
    assert {"round0", "round1"} <= kept
    assert not (workdir / "results/models/adaptive").exists()  # cut short before the final flow
    resume(workdir, finished)
    assert round_reports(workdir) == round_reports(smoke_run)
    # and byte for byte: every artefact of the rounds and the final flow, killed and resumed or not
    made = [
        path.relative_to(workdir)
        for folder in (ADAPTIVE_ROUNDS, "results/models/adaptive", "results/summary/adaptive")
        for path in sorted((workdir / folder).rglob("*"))
        if path.is_file() and not (path.suffix == ".json" and path.with_suffix("").exists())  # not sidecars
    ]
    assert len(made) > 20
    assert [path for path in made if (workdir / path).read_bytes() != (smoke_run / path).read_bytes()] == []
    # then n_per_round doubled on the finished tree: the rounds are redone, two reach max_calls,
    # the old later rounds go, and the audit stays clean (one run reused: a fresh one costs 50 s)
    rounds_before = len(round_reports(workdir))
    config["experiments"][0]["adaptive"]["n_per_round"] = 2000
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, "--cores", "2", "--quiet")
    assert result.returncode == 0, result.stderr[-4000:]
    reports = round_reports(workdir)
    assert rounds_before > 2 and [report["calls"] for report in reports] == [2000, 4000]
    assert "0 problems found" in audit(workdir)


def flip_one_bit(path: Path) -> None:
    """One bit of the middle byte of ``path`` flipped, as a disk or a careless edit might."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def _finished_copy(smoke_run: Path, tmp_path: Path) -> Path:
    """A copy of the finished smoke tree (times kept), to damage without touching the fixture's."""
    copy = tmp_path / "copy"
    shutil.copytree(smoke_run, copy, symlinks=True)
    return copy


def test_changed_round_draws_are_refused_before_their_likelihood_is_deleted(smoke_run, tmp_path):
    workdir = _finished_copy(smoke_run, tmp_path)
    draws = workdir / ADAPTIVE_ROUNDS / "round1/draws.npz"
    chunk = workdir / ADAPTIVE_ROUNDS / "round1/likelihood/chunk0.npz"
    before = chunk.read_bytes()
    flip_one_bit(draws)
    result = run_snakemake(workdir, "--cores", "1")
    assert result.returncode != 0
    assert "round1/draws.npz was changed after it was made" in result.stderr and "--force" in result.stderr
    assert chunk.read_bytes() == before


def test_an_edited_round_decision_is_refused_before_a_round_follows_from_it(smoke_run, tmp_path):
    workdir = _finished_copy(smoke_run, tmp_path)
    reports = round_reports(workdir)
    last = workdir / ADAPTIVE_ROUNDS / f"round{len(reports) - 1}/report.json"
    last.write_text(json.dumps(reports[-1] | {"next": "train"}))
    result = run_snakemake(workdir, "-n", "--cores", "1")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and f"round{len(reports) - 1}/report.json was changed after it was made" in output
    last.write_text("{not json")
    result = run_snakemake(workdir, "-n", "--cores", "1")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "report.json" in output and "snakemake --cores 1 --force" in output


@pytest.mark.parametrize("gone", ["round1/pool.npz", "round1/report.json", "last round's folder"])
def test_a_deleted_round_artefact_of_a_finished_run_is_named_with_the_command_that_remakes_it(
    smoke_run, tmp_path, gone
):
    workdir = _finished_copy(smoke_run, tmp_path)
    last = len(round_reports(smoke_run)) - 1
    folder = workdir / ADAPTIVE_ROUNDS / f"round{last}"
    pool = workdir / ADAPTIVE_ROUNDS / ("round1/pool.npz" if gone != "last round's folder" else f"round{last}/pool.npz")
    original = pool.read_bytes()
    if gone == "last round's folder":
        shutil.rmtree(folder)
    else:
        (workdir / ADAPTIVE_ROUNDS / gone).unlink()
    result = run_snakemake(workdir, "-n", "--cores", "1")
    assert result.returncode != 0
    command = re.search(r"remake (?:it|them) with: (snakemake [^\n(]*)", result.stdout + result.stderr)
    named = "pool.npz" if gone == "last round's folder" else gone
    assert command and named in command.group(1), (result.stdout + result.stderr)[-2000:]
    remade = run_snakemake(workdir, *command.group(1).split()[1:])
    assert remade.returncode == 0, remade.stderr[-2000:]
    assert pool.read_bytes() == original
    assert run_snakemake(workdir, "-n", "--cores", "1").returncode == 0


NARROW_MODEL = """
import numpy as np
import lwflow

def make_problem():
    centres = np.array([[-2.0, 0.0], [2.0, 0.0]])
    def log_likelihood(theta):
        squared = ((theta[:, None, :] - centres) ** 2).sum(-1) / (2 * 0.05**2)
        return -squared.min(1)
    return lwflow.Problem("narrow", lwflow.UniformBox([-5, -5], [5, 5]), log_likelihood)
"""


def test_an_adaptive_run_without_truth_draws_no_one_shot_prior_sample(tmp_path):
    """Its pair plot's background is the rounds' own weighted draws: the prior draws that adaptive
    rounds are there to avoid (here too few carry the posterior for clip_weights) are never made."""
    config = smoke_config()
    config["seeds"] = [0]
    config["problems"] = {"narrow": {"kind": "user", "target": "narrow_model:make_problem", "n_prior_samples": 200}}
    config["experiments"] = [
        {
            "problems": ["narrow"],
            "archs": ["realnvp"],
            "modes": [2],
            "proposal": "adaptive",
            "adaptive": {"n_per_round": 500, "max_calls": 1000},
            "max_steps": 50,
        }
    ]
    config["outputs"] = {"paper_a": False, "paper_b": False}
    workdir = workflow_copy(tmp_path, config)
    (workdir / "narrow_model.py").write_text(NARROW_MODEL)
    result = run_snakemake(workdir, "--cores", "2", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "results/figures/models/adaptive/narrow/realnvp_K2/seed0.png").is_file()
    assert not (workdir / "results/prior").exists() and not (workdir / "results/weights").exists()
