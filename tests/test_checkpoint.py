"""Resumable library fits (lwflow.fitting.checkpoint): a fit killed mid-round goes on from its last
finished round to the uninterrupted fit's posterior; a checkpoint of other settings, another
likelihood or prior, or a damaged one is refused with the reason and the fix."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import lwflow
from lwflow.fitting.checkpoint import LIKELIHOOD_RECHECKS, CheckpointError

SMALL = {
    "model": {"n_modes": 2, "n_layers": 2, "hidden_units": 16},
    "training": {"max_steps": 60, "eval_every": 20, "batch_size": 256},
    "check": {"n_draws": 300},
    "refine": {"n_draws": 300},
}
ADAPTIVE = {  # whole rounds of 500 draws (tempering_round_share 1), so that the kill lands in round 2
    "proposal": "adaptive",
    "adaptive": {"n_per_round": 500, "max_calls": 2000, "final_ess": 1e6, "tempering_round_share": 1.0},
}

MODULE = """
import os, signal, sys
import numpy as np
import lwflow

ROWS = [0]
KILL_AFTER_ROWS = int(os.environ.get("KILL_AFTER_ROWS", "0"))


def log_likelihood(theta):
    ROWS[0] += len(theta)
    if KILL_AFTER_ROWS and ROWS[0] > KILL_AFTER_ROWS:
        os.kill(os.getpid(), signal.SIGKILL)  # a kill in the middle of a round's likelihood
    centres = np.array([[-2.0, 0.0], [2.0, 0.0]])
    squared = ((theta[:, None, :] - centres) ** 2).sum(-1)
    return np.logaddexp(-0.5 * squared[:, 0] / 0.25, -0.5 * squared[:, 1] / 0.25)


problem = lwflow.Problem("killed", lwflow.UniformBox([-6, -6], [6, 6]), log_likelihood)

if __name__ == "__main__":
    checkpoint, out = sys.argv[1] or None, sys.argv[2]
    lwflow.fit(problem, seed=0, checkpoint=checkpoint, **{settings}).save(out)
"""


def two_modes(theta: np.ndarray, shift: float = 0.0) -> np.ndarray:
    centres = np.array([[-2.0, 0.0], [2.0, 0.0]]) + shift
    squared = ((theta[:, None, :] - centres) ** 2).sum(-1)
    return np.logaddexp(-0.5 * squared[:, 0], -0.5 * squared[:, 1])


def problem(log_likelihood=two_modes, low: float = -6.0) -> lwflow.Problem:
    return lwflow.Problem("resumed", lwflow.UniformBox([low, -6], [6, 6]), log_likelihood)


def same_posterior(first: lwflow.Posterior, second: lwflow.Posterior) -> None:
    np.testing.assert_array_equal(first.sample(300, seed=3), second.sample(300, seed=3))
    assert first.log_evidence == second.log_evidence
    assert first.log_evidence_se == second.log_evidence_se
    assert first.verdict == second.verdict


def test_a_fit_killed_mid_round_resumes_at_its_last_round_to_the_uninterrupted_posterior(tmp_path):
    """Three processes: a fit killed while round 2's likelihood runs, the same command again (it
    resumes), and a fit without a checkpoint; the two finished posteriors are the same."""
    settings = {**SMALL, **ADAPTIVE}
    (tmp_path / "killed_fit.py").write_text(textwrap.dedent(MODULE).replace("{settings}", repr(settings)))
    checkpoint = tmp_path / "fit.ckpt"

    def run(out: str, checkpoint_arg: str, kill_after: int = 0) -> subprocess.CompletedProcess:
        env = os.environ | {"KILL_AFTER_ROWS": str(kill_after)}
        command = [sys.executable, "killed_fit.py", checkpoint_arg, out]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    killed = run("killed.pt", str(checkpoint), kill_after=1250)  # rounds 0 and 1 done, round 2 half-evaluated
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (tmp_path / "killed.pt").exists()
    saved = torch.load(checkpoint, weights_only=True)
    assert [record["round"] for record in saved["state"]["records"]] == [0, 1]

    resumed = run("resumed.pt", str(checkpoint))
    uninterrupted = run("uninterrupted.pt", "")
    assert resumed.returncode == 0 and uninterrupted.returncode == 0, resumed.stderr + uninterrupted.stderr
    first = lwflow.load_posterior(tmp_path / "resumed.pt")
    second = lwflow.load_posterior(tmp_path / "uninterrupted.pt")
    same_posterior(first, second)
    assert first.diagnostics["resumed"]["done"] == "2 rounds"
    assert len(first.diagnostics["rounds"]) == len(second.diagnostics["rounds"]) == 4
    for a, b in zip(first.diagnostics["rounds"], second.diagnostics["rounds"]):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    calls = second.diagnostics["n_likelihood_calls"] + LIKELIHOOD_RECHECKS
    assert first.diagnostics["n_likelihood_calls"] == calls  # the recheck's calls are counted


def test_a_finished_prior_fit_resumes_without_the_likelihood_or_training(tmp_path):
    checkpoint = tmp_path / "prior.ckpt"
    first = lwflow.fit(problem(), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)
    rows = []

    def counted(theta: np.ndarray) -> np.ndarray:
        rows.append(len(theta))
        return two_modes(theta)

    again = lwflow.fit(problem(counted), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)
    same_posterior(first, again)
    assert again.diagnostics["resumed"]["done"] == "training"
    assert sum(rows) == LIKELIHOOD_RECHECKS + 300 + 300  # the recheck, the refinement and the check only


def test_a_checkpoint_of_other_settings_is_refused_naming_the_setting(tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    lwflow.fit(problem(), seed=0, checkpoint=checkpoint, **SMALL, **ADAPTIVE)
    before = checkpoint.read_bytes()
    other = {**ADAPTIVE, "adaptive": {**ADAPTIVE["adaptive"], "n_per_round": 400}}
    with pytest.raises(CheckpointError, match=r"adaptive.n_per_round = 500; this fit has adaptive.n_per_round = 400"):
        lwflow.fit(problem(), seed=0, checkpoint=checkpoint, **SMALL, **other)
    with pytest.raises(CheckpointError, match=r"seed = 0; this fit has seed = 1"):
        lwflow.fit(problem(), seed=1, checkpoint=checkpoint, **SMALL, **ADAPTIVE)
    with pytest.raises(CheckpointError, match=r"proposal = 'adaptive'; this fit has proposal = 'prior'"):
        lwflow.fit(problem(), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)
    assert checkpoint.read_bytes() == before  # nothing computed is lost


def test_a_changed_likelihood_or_prior_is_refused_not_mixed_with_the_old_draws(tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    lwflow.fit(problem(), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)
    with pytest.raises(CheckpointError, match="the likelihood differs from the one checkpoint .* was written with"):
        lwflow.fit(problem(lambda t: two_modes(t, 0.1)), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)
    with pytest.raises(CheckpointError, match="the prior draws differ"):
        lwflow.fit(problem(low=-5.0), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)


def test_a_damaged_or_foreign_checkpoint_is_refused(tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    lwflow.fit(problem(), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)
    payload = torch.load(checkpoint, weights_only=True)
    payload["state"]["log_likelihood"][0] += 1.0
    torch.save(payload, checkpoint)
    with pytest.raises(CheckpointError, match="does not match its checksum .* delete .* to start the fit over"):
        lwflow.fit(problem(), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)
    torch.save({"spec": {}}, checkpoint)
    with pytest.raises(CheckpointError, match="is not an lwflow fit checkpoint"):
        lwflow.fit(problem(), n_prior_samples=2000, seed=0, checkpoint=checkpoint, **SMALL)
    with pytest.raises(CheckpointError, match="is a folder"):
        lwflow.fit(problem(), n_prior_samples=2000, seed=0, checkpoint=tmp_path, **SMALL)
