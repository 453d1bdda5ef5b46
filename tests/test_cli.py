"""The lwflow command: one problem without Snakemake, the workflow's artefacts, audit and summary."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lwflow
from lwflow import cli
from lwflow.stages.layout import LAYOUT, pattern

ROOT = Path(__file__).resolve().parents[1]

MODEL = """
import numpy as np
import lwflow

def make_problem(noise, observations):
    y = np.loadtxt(observations, delimiter=",", ndmin=2)
    box = lwflow.UniformBox([-5, -5], [5, 5])
    return lwflow.Problem("line", box, lambda t: -0.5 * ((t - y[0]) ** 2).sum(1) / noise, parameter_names=("a", "b"))
"""


def test_fit_writes_the_workflows_artefacts_audit_and_summary_read_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cli_model.py").write_text(MODEL)
    (tmp_path / "obs.csv").write_text("1.0,-1.0\n")
    args = ["fit", "cli_model:make_problem", "--out", "out", "--arg", "noise=0.5", "--data", "observations=obs.csv"]
    args += ["--n-prior-samples", "20000", "--max-steps", "200", "--n-samples", "4000", "--n-layers", "2"]
    assert cli.main(args) == 0
    wildcards = {"problem": "line", "seed": 0, "fit": "likelihood", "arch": "realnvp", "modes": "auto", "chunk": 0}
    written = ["prior", "likelihood_chunk", "likelihood", "weights", "weights_report", "model", "loss", "samples"]
    for name in [*written, "modes", "summary", "summary_markdown"]:
        assert (tmp_path / "out" / LAYOUT[name].format(**wildcards)).is_file(), name
    assert (tmp_path / "out/logs/train_flow/likelihood/line/realnvp_Kauto/seed0.log").read_text().count("step ") >= 2
    summary = json.loads((tmp_path / "out/summary/likelihood/line/realnvp_Kauto/seed0.json").read_text())
    assert [p["parameter"] for p in summary["parameters"]] == ["a", "b"]
    assert abs(summary["parameters"][0]["mean"] - 1.0) < 0.1 and abs(summary["parameters"][0]["sd"] - 0.5**0.5) < 0.05
    refinement = json.loads((tmp_path / "out/models/likelihood/line/realnvp_Kauto/seed0/model.pt.json").read_text())
    assert refinement["refinement"]["n_draws"] == 2000 and summary["n_likelihood_calls"] == 20_000 + 2000 + 2000
    opened = lwflow.load_posterior("out/models/likelihood/line/realnvp_Kauto/seed0")  # one result type
    assert opened.parameter_names == ("a", "b") and opened.log_evidence == summary["log_evidence"]
    capsys.readouterr()

    assert cli.main(["audit", "out"]) == 0
    assert cli.main(["summary", "out"]) == 0
    assert "| a |" in capsys.readouterr().out

    (tmp_path / "obs.csv").write_text("2.0,-1.0\n")
    assert cli.main(["audit", "out"]) == 1
    lines = capsys.readouterr().out.splitlines()  # one line per cause: the data file that changed
    assert len(lines) == 2 and lines[0].startswith(f"stale because {tmp_path / 'obs.csv'} changed: ")
    assert lines[1].endswith("problems found (one line each: lwflow audit --all out)")
    n_stale = int(lines[0].split(": ")[1].split()[0])
    assert cli.main(["audit", "out", "--all"]) == 1
    report = capsys.readouterr().out
    assert "out/likelihood/line/seed0/chunk0.npz: input" in report and "obs.csv changed" in report
    assert "out/summary/likelihood/line/realnvp_Kauto/seed0.json: stale" in report
    assert len(report.splitlines()) == n_stale + 1


def test_the_console_script_is_installed():
    result = subprocess.run([Path(sys.executable).parent / "lwflow", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "fit" in result.stdout and "audit" in result.stdout
    from importlib.metadata import version

    result = subprocess.run([Path(sys.executable).parent / "lwflow", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"lwflow {version('lwflow')}"


def test_the_rules_spell_out_the_results_layout():
    """Every pattern appears literally in a rule, but for the metrics and the summaries, which
    the generated scoring and sampling rules (one per group of models) take from
    lwflow.stages.plan."""
    rules = "".join(p.read_text() for p in (ROOT / "workflow/rules").glob("*.smk"))
    missing = [name for name in LAYOUT if f'"{pattern(name)}"' not in rules]
    assert missing == ["metrics", "log_q", "summary", "summary_markdown"]


def test_check_config_names_the_line_of_a_yaml_error(tmp_path, capsys):
    from lwflow.cli import main

    assert main(["check-config", str(ROOT / "config.yaml"), str(ROOT / "tests/config/smoke.yaml")]) == 0
    (tmp_path / "bad.yaml").write_text("seeds: [0\nproblems: {}\n")
    with pytest.raises(SystemExit, match="YAML syntax error at line 2"):
        main(["check-config", str(tmp_path / "bad.yaml")])


MISTAKES = """seeds: [0, -1]
problems:
  mine:
    kind: user
    target: "my_model:make_problem"
    n_prior_sample: 2000
experiments:
  - {problems: [mine], archs: [realnvp], modes: [1]}
trainig:
  max_steps: 10
check: {n_draw: 5}
"""


def test_check_config_names_each_schema_mistake_with_its_line_and_the_nearest_key(tmp_path):
    from lwflow.cli import main

    (tmp_path / "mine.yaml").write_text(MISTAKES)
    with pytest.raises(SystemExit) as refusal:
        main(["check-config", str(tmp_path / "mine.yaml")])
    assert str(refusal.value).splitlines()[1:] == [
        "  line 1: seeds[1]: -1 is less than the minimum of 0",
        "  line 6: problems.mine.n_prior_sample: not a key of a problem; did you mean 'n_prior_samples'?",
        "  line 9: trainig: not a key of the config; did you mean 'training'?",
        "  line 11: check.n_draw: not a key of check; did you mean 'n_draws'?",
    ]


def test_fit_runs_adaptive_rounds_over_a_pool_as_the_workflows_round_stages(tmp_path, monkeypatch, capsys):
    """--proposal adaptive: the workflow's round artefacts (draws, likelihood, pool, report, the
    round's flow) until one stops the rounds, then the final flow; --pool 2 shares the calls."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cli_rounds_model.py").write_text(MODEL)  # a module of its own: the other test's is imported
    (tmp_path / "obs.csv").write_text("1.0,-1.0\n")
    args = ["fit", "cli_rounds_model:make_problem", "--out", "out", "--arg", "noise=0.5"]
    args += ["--data", "observations=obs.csv", "--proposal", "adaptive", "--n-per-round", "1000"]
    args += ["--max-calls", "3000", "--pool", "2", "--tempering-round-share", "1"]  # whole rounds: three
    args += ["--max-steps", "100", "--n-samples", "2000", "--n-layers", "2", "--check-draws", "500"]
    assert cli.main(args) == 0
    assert "round 2: 3000 likelihood calls" in capsys.readouterr().err
    wildcards = {"problem": "line", "seed": 0, "fit": "adaptive", "arch": "realnvp", "modes": "auto", "chunk": 0}
    for round_index, names in enumerate([ROUND_FILES, ROUND_FILES, ROUND_FILES[:-3]]):
        for name in names:
            assert (tmp_path / "out" / LAYOUT[name].format(round=round_index, **wildcards)).is_file(), name
    assert not (tmp_path / "out" / LAYOUT["round_model"].format(round=2, **wildcards)).exists()  # the final flow's
    summary = json.loads((tmp_path / "out/summary/adaptive/line/realnvp_Kauto/seed0.json").read_text())
    assert summary["beta"] == 1.0 and summary["verdict"] in ("trusted", "reweight")
    assert summary["n_likelihood_calls"] == 3000 + 2000 + 500  # rounds, base refinement, check
    assert abs(summary["parameters"][0]["mean"] - 1.0) < 0.1 and abs(summary["parameters"][0]["sd"] - 0.5**0.5) < 0.05
    opened = lwflow.load_posterior("out/models/adaptive/line/realnvp_Kauto/seed0")
    assert opened.log_evidence == summary["log_evidence"] and len(opened.diagnostics["rounds"]) == 3
    assert opened.resample(100, seed=1).shape == (100, 2)  # the rounds' weighted draws, as a library fit keeps
    assert cli.main(["audit", "out"]) == 0


ROUND_FILES = ["round_draws", "round_likelihood_chunk", "round_likelihood", "round_pool", "round_report"]
ROUND_FILES += ["round_model", "round_loss", "round_modes"]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--n-per-round", "500"], "--n-per-round set adaptive rounds, which --proposal prior does not run"),
        (["--proposal", "adaptive", "--n-per-round", "5000", "--max-calls", "1000"], "max_calls = 1000 is below"),
        (["--proposal", "adaptive", "--defensive-share", "1.5"], "--defensive-share"),
        (["--pool", "0"], "--pool 0: give a number of processes >= 1"),
    ],
)
def test_fit_refuses_options_that_do_not_go_together_before_any_stage(tmp_path, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cli_model.py").write_text(MODEL)
    (tmp_path / "obs.csv").write_text("1.0,-1.0\n")
    args = ["fit", "cli_model:make_problem", "--out", "out", "--arg", "noise=0.5", "--data", "observations=obs.csv"]
    with pytest.raises(SystemExit, match=message):
        cli.main(args + options)
    assert not any((tmp_path / "out").rglob("*.npz"))


def test_fit_refuses_realnvp_for_one_parameter_before_any_stage_and_fits_it_with_nsf(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    box = "lwflow.UniformBox([-5], [5])"
    one = f"import lwflow\nproblem = lwflow.Problem('one', {box}, lambda t: -2 * (t[:, 0] - 1) ** 2)\n"
    (tmp_path / "one_model.py").write_text(one)
    args = ["fit", "one_model:problem", "--out", "out", "--n-prior-samples", "2000", "--max-steps", "40"]
    with pytest.raises(SystemExit, match="realnvp needs at least 2 parameters.*pass --arch nsf"):
        cli.main(args)
    assert not any((tmp_path / "out").rglob("*.npz"))
    assert cli.main([*args, "--arch", "nsf", "--n-layers", "2", "--hidden-units", "16"]) == 0
    posterior = lwflow.load_posterior("out/models/likelihood/one/nsf_Kauto/seed0")
    assert posterior.dim == 1 and abs(posterior.sample(2000, seed=0).mean() - 1) < 0.05


def test_fit_help_gives_every_option_its_default_from_the_settings_schema(capsys):
    from lwflow.settings import section_schema

    with pytest.raises(SystemExit):
        cli.main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, (section, key) in cli.OPTION_SETTINGS.items():
        schema = section_schema(section)
        default = (schema["properties"][key] if key else schema).get("default")
        if default is not None and option != "--n-layers":  # n_layers: the architecture's
            assert f"(default: {default})" in text.split(f"{option} ", 2)[-1].split(" --", 1)[0], option
    assert "--n-layers N_LAYERS layers (default: 8, and 4 for nsf)" in text
