"""A workflow run killed with its jobs running resumes without recomputing what was finished."""

import subprocess
import sys

from workflow_runs import (
    flip_one_bit,
    resume,
    run_and_kill,
    run_snakemake,
    smoke_config,
    workflow_copy,
)


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
