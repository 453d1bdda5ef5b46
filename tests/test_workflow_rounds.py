"""Adaptive rounds killed mid-round resume at that round, byte for byte as the smoke run's."""

import numpy as np
import yaml
from workflow_runs import (
    ADAPTIVE_ROUNDS,
    audit,
    resume,
    round_reports,
    run_and_kill,
    run_snakemake,
    smoke_config,
    workflow_copy,
)


def test_adaptive_rounds_killed_mid_round_resume_at_that_round(tmp_path, request):
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
    smoke_run = request.getfixturevalue("smoke_run")  # asked for only now: its run may still be going
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
    # then n_per_round doubled on the finished tree: the rounds are redone with rounds twice as
    # large, the old later rounds go, and the audit stays clean (one run reused: a fresh one costs 50 s)
    rounds_before = len(round_reports(workdir))
    config["experiments"][0]["adaptive"]["n_per_round"] = 2000
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, "--cores", "2", "--quiet")
    assert result.returncode == 0, result.stderr[-4000:]
    reports = round_reports(workdir)
    assert rounds_before > 2 and reports[0]["n"] == 1000  # tempering_round_share 0.5 of 2000
    assert [report["calls"] for report in reports] == list(np.cumsum([r["n"] for r in reports]))
    assert reports[-1]["calls"] <= 4000
    assert "0 problems found" in audit(workdir)
