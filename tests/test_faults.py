"""Bad input and faults on the library's and the command's surfaces (issue: round three): each
case is refused before any work, by a message that names the object, the value and the fix, or
it is handled so that nothing valid is lost."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

import lwflow
from lwflow import load_posterior
from lwflow.fitting.posterior import payload_digest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[lwflow.Posterior, Path]:
    problem = lwflow.Problem("g", lwflow.UniformBox([-3, -3], [3, 3]), lambda t: -0.5 * ((t - 0.5) ** 2).sum(1) / 0.3)
    posterior = lwflow.fit(
        problem, n_prior_samples=3000, model={"n_modes": 1, "n_layers": 2}, training={"max_steps": 20},
        check={"n_draws": 200},
    )  # fmt: skip
    path = tmp_path_factory.mktemp("saved") / "posterior.pt"
    posterior.save(path)
    return posterior, path


def test_a_saved_posterior_with_any_flipped_bit_is_refused_or_unchanged(saved, tmp_path):
    posterior, path = saved
    raw = path.read_bytes()
    rng = np.random.default_rng(0)
    point = np.zeros((1, 2))
    refused = 0
    for index in rng.choice(len(raw), size=40, replace=False):
        damaged = bytearray(raw)
        damaged[index] ^= 1 << int(rng.integers(8))
        (tmp_path / "damaged.pt").write_bytes(bytes(damaged))
        try:
            loaded = load_posterior(tmp_path / "damaged.pt")
        except ValueError as error:
            refused += 1
            assert "checksum" in str(error) or "not a readable" in str(error)
            continue
        assert loaded.log_prob(point) == pytest.approx(posterior.log_prob(point), abs=0)
        assert loaded.log_evidence == posterior.log_evidence
    assert refused >= 30  # the rest fell in the zip container's padding or unread fields


def test_a_posterior_saved_by_another_version_names_both_versions(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["spec"]["flow_kind"] = "future"  # a field this version does not know
    payload["integrity"] = {"lwflow_version": "9.9.9", "sha256": payload_digest(payload)}
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ValueError, match=r"written by lwflow 9\.9\.9, this is lwflow"):
        load_posterior(tmp_path / "future.pt")
    del payload["integrity"]
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="written by lwflow .unknown: no integrity record., this is lwflow"):
        load_posterior(tmp_path / "old.pt")


def test_a_missing_saved_posterior_is_called_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved posterior or model folder at .*none.pt"):
        load_posterior(tmp_path / "none.pt")


def test_parameter_names_must_fit_the_model(saved):
    posterior, _ = saved
    with pytest.raises(ValueError, match="1 parameter names \\['a'\\] for a 2-D model; give 2 names"):
        lwflow.Posterior(posterior.model, posterior.architecture, ("a",), 0.0, 0.0)


class _SampleOneLawScoreAnother:
    dim = 2

    def sample(self, n, rng):
        return rng.uniform(-5, 5, (n, 2))

    def log_prob(self, theta):
        return stats.norm.logpdf(theta).sum(1)

    def support(self):
        return np.full(2, -5.0), np.full(2, 5.0)


class _InfiniteOnAStrip(_SampleOneLawScoreAnother):
    def log_prob(self, theta):
        return np.where(np.abs(theta[:, 0]) < 0.1, np.inf, np.log(1 / 100))


BAD_PROBLEMS = [
    (lambda: lwflow.Problem("../../x", lwflow.UniformBox([0, 0], [1, 1]), np.sum), "problem name = '../../x'"),
    (lambda: lwflow.Problem("a/b", lwflow.UniformBox([0, 0], [1, 1]), np.sum), "no /, .. or spaces"),
    (lambda: lwflow.Problem("p", _SampleOneLawScoreAnother(), np.sum).check(), "different laws"),
    (lambda: lwflow.Problem("p", _InfiniteOnAStrip(), np.sum).check(), "log_prob is inf at"),
    (lambda: lwflow.Gaussian([np.nan, 0], 1.0), "mean [nan, 0.0] is not finite"),
    (lambda: lwflow.Gaussian([0, 0], [[np.nan, 0], [0, 1]]), "covariance"),
    (lambda: lwflow.Gaussian([0, 0], [1, np.inf]), "give finite variances"),
    (lambda: lwflow.ProductOfMarginals((1, 2)), "not a law like a frozen scipy.stats one"),
]


@pytest.mark.parametrize(("make", "message"), BAD_PROBLEMS, ids=[case[1] for case in BAD_PROBLEMS])
def test_a_bad_problem_or_prior_is_refused_when_made(make, message):
    with pytest.raises((ValueError, TypeError)) as refused:
        make()
    assert message in str(refused.value)


def test_the_priors_lwflow_ships_pass_the_law_check():
    for prior in [
        lwflow.UniformBox([-5, -5], [5, 5]),
        lwflow.Gaussian([0, 1], [[1, 0.5], [0.5, 2]]),
        lwflow.ProductOfMarginals([stats.cauchy(0, 1), stats.expon(), stats.uniform(-1, 2)]),
    ]:
        lwflow.Problem("p", prior, lambda t: -(t**2).sum(1)).check()


def test_likelihoods_that_return_strings_or_are_minus_inf_everywhere_are_named():
    strings = lwflow.Problem("s", lwflow.UniformBox([-3, -3], [3, 3]), lambda t: np.array(["1.0"] * len(t)))
    with pytest.raises(ValueError, match="returned values of type <U3"):
        lwflow.fit(strings, n_prior_samples=200)
    nothing = lwflow.Problem("z", lwflow.UniformBox([-3, -3], [3, 3]), lambda t: np.full(len(t), -np.inf))
    with pytest.raises(ValueError, match="-inf at all 100 draws of the rounds so far"):
        lwflow.fit(nothing, proposal="adaptive", adaptive={"n_per_round": 200, "max_calls": 1000})  # round 0: 100


def test_a_likelihood_that_changes_its_argument_does_not_move_the_draws():
    from lwflow.fitting.weights import evaluate_log_likelihood

    def shifting(theta):
        theta -= 3
        return -0.5 * (theta**2).sum(1)

    theta = np.random.default_rng(0).normal(size=(50, 2))
    before = theta.copy()
    values = evaluate_log_likelihood(lwflow.Problem("m", lwflow.UniformBox([-6, -6], [6, 6]), shifting), theta)
    assert np.array_equal(theta, before)
    assert np.allclose(values, -0.5 * ((before - 3) ** 2).sum(1))


def test_python_s_own_modules_are_refused_as_problems_by_name():
    from lwflow.problems.user import user_module_file

    with pytest.raises(ValueError, match="'sys', a module of Python itself"):
        user_module_file("sys:exit")


USER_MODULE = """
import numpy as np, lwflow
def make(noise=0.3, obs=None):
    if obs:
        np.loadtxt(obs)
    return lwflow.Problem("umod", lwflow.UniformBox([-3, -3], [3, 3]), lambda t: -0.5 * ((t - 0.5) ** 2).sum(1) / noise)
"""


def _lwflow(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lwflow.cli", *arguments], cwd=folder, capture_output=True, text=True, timeout=120
    )


BAD_COMMANDS = [
    (["--name", "../../x"], "--name = '../../x'"),
    (["--modes", "abc"], "base modes must be a positive integer or auto, got 'abc'"),
    (["--data", "obs=fifo"], "is not a regular file (a FIFO or a device)"),
    (["--data", "obs=folder"], "is a folder; give one file"),
    (["--data", "obs=../outside.txt"], "lies outside the working directory"),
    (["--arg", "bogus=1"], "calling it with ['bogus'] failed"),
    (["--max-steps", "0"], "--max-steps = 0: 0 is less than the minimum of 1"),
    (["--seed", "-1"], "--seed = -1"),
    (["--n-prior-samples", "5"], "--n-prior-samples = 5"),
    (["--out", "afile"], "is a file, not a folder"),
    (["--out", "/proc/lwflow-out"], "cannot be made (No such file or directory); give a folder you can write"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_COMMANDS, ids=[case[1][:40] for case in BAD_COMMANDS])
def test_lwflow_fit_refuses_bad_options_before_the_problem_runs(tmp_path, arguments, message):
    work = tmp_path / "work"
    work.mkdir()
    (work / "umod.py").write_text(USER_MODULE)
    (work / "afile").write_text("")
    (work / "folder").mkdir()
    (tmp_path / "outside.txt").write_text("1 2\n")
    os.mkfifo(work / "fifo")
    options = ["--out", "out", *arguments] if "--out" not in arguments else arguments
    result = _lwflow(work, "fit", "umod:make", *options)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (work / "out" / "prior").exists() and not (tmp_path / "x").exists()


def test_lwflow_fit_names_a_missing_attribute_without_a_traceback(tmp_path):
    (tmp_path / "umod.py").write_text(USER_MODULE)
    result = _lwflow(tmp_path, "fit", "umod:nope", "--out", "out")
    assert result.returncode != 0 and "module 'umod' has no attribute 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_lwflow_fit_into_the_same_folder_is_refused(tmp_path, monkeypatch):
    from lwflow import cli

    (tmp_path / "umod.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    args = cli.parser().parse_args(["fit", "umod:make", "--out", str(out)])
    with cli._only_writer(out), pytest.raises(SystemExit, match="another lwflow fit is writing to"):
        cli.run_fit(args, lambda **options: None)


def test_a_closed_pipe_ends_lwflow_summary_quietly(tmp_path):
    summary = tmp_path / "summary" / "p"
    summary.mkdir(parents=True)
    for seed in range(50):
        (summary / f"seed{seed}.md").write_text("row\n" * 2000)
    command = f"{sys.executable} -m lwflow.cli summary {tmp_path} | head -c 10"
    result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""


def test_auditing_an_empty_folder_fails_and_says_nothing_was_verified(tmp_path):
    from lwflow.audit import main

    assert main([str(tmp_path)]) == 1


def test_lwflow_fit_refuses_an_out_folder_it_cannot_write_before_the_problem_runs(tmp_path, monkeypatch):
    """Read-only folders cannot be made as root (root writes anywhere): the access check is
    answered 'no' instead, as it is for a user without the permission."""
    from lwflow import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "umod.py").write_text(USER_MODULE)
    monkeypatch.setattr(cli.os, "access", lambda path, mode: False)
    with pytest.raises(SystemExit, match=re.escape("(or the folder that holds it) is not writable; give a folder")):
        cli.main(["fit", "umod:make", "--out", "out"])
    assert not (tmp_path / "out" / "prior").exists()
