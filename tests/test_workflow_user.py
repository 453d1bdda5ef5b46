"""The workflow on a problem of the user's own: a module with args and data, its report, edits
to its module or data, a config of its own, and adaptive rounds without an exact posterior."""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from workflow_runs import (
    ROOT,
    FinishedRun,
    audit,
    dry_run_jobs,
    run_snakemake,
    smoke_config,
    workflow_copy,
)

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
    return FinishedRun.made(workdir)


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
