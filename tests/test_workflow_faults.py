"""A finished adaptive run whose round artefacts were changed, edited or deleted: refused or
named with the command that remakes them, nothing computed lost."""

import json
import re
import shutil

import pytest
from workflow_runs import (
    ADAPTIVE_ROUNDS,
    finished_copy,
    flip_one_bit,
    round_reports,
    run_snakemake,
)


def test_changed_round_draws_are_refused_before_their_likelihood_is_deleted(smoke_run, tmp_path):
    workdir = finished_copy(smoke_run, tmp_path)
    draws = workdir / ADAPTIVE_ROUNDS / "round1/draws.npz"
    chunk = workdir / ADAPTIVE_ROUNDS / "round1/likelihood/chunk0.npz"
    before = chunk.read_bytes()
    flip_one_bit(draws)
    result = run_snakemake(workdir, "--cores", "1")
    assert result.returncode != 0
    assert "round1/draws.npz was changed after it was made" in result.stderr and "--force" in result.stderr
    assert chunk.read_bytes() == before


def test_an_edited_round_decision_is_refused_before_a_round_follows_from_it(smoke_run, tmp_path):
    workdir = finished_copy(smoke_run, tmp_path)
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
    workdir = finished_copy(smoke_run, tmp_path)
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
