"""The data stages (workflow/rules/data.smk): prior draws and their likelihood in chunks, gathered
and clipped into weights; exact draws of targets trained on directly (fit samples)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lwflow.artefacts import (
    Provenance,
    first_changed_row,
    read_npz,
    write_json,
    write_npz,
)
from lwflow.fitting.weights import weights_from_log_likelihood
from lwflow.settings import ClippingConfig
from lwflow.stages.jobs import truth_of
from lwflow.streams import rng_for

__all__ = [
    "sample_prior",
    "sample_target",
    "evaluate_likelihood",
    "check_prior_unchanged",
    "gather_likelihood",
    "clip_weights",
]


def sample_prior(name: str, spec: dict[str, Any], seed: int, output: Path, provenance: Provenance) -> None:
    """``theta``: ``spec['n_prior_samples']`` draws from the prior, with their ``log_prior`` (the
    likelihood's job checks it against the problem's prior: :func:`check_prior_unchanged`)."""
    from lwflow.problems import problem_from_spec

    problem = problem_from_spec(name, spec)
    theta = problem.prior.sample(int(spec["n_prior_samples"]), rng_for(seed, "prior"))
    write_npz(output, {"theta": theta, "log_prior": problem.prior.log_prob(theta)}, provenance)
    print(f"{len(theta)} prior samples in {problem.dim} dimensions")


def sample_target(
    name: str, spec: dict[str, Any], n_samples: int, seed: int, output: Path, provenance: Provenance
) -> None:
    """``theta``: ``n_samples`` exact draws of the target (the ``samples`` training mode, paper B)."""
    truth = truth_of(name, spec)
    theta = truth.sample(n_samples, rng_for(seed, "target"))
    write_npz(output, {"theta": theta}, provenance)
    print(f"{len(theta)} exact target samples in {theta.shape[1]} dimensions")


def evaluate_likelihood(
    name: str,
    spec: dict[str, Any],
    prior: Path,
    chunk: int,
    n_chunks: int,
    output: Path,
    provenance: Provenance,
    on_rows: Callable[[int, int], None] | None = None,
    pool: int | None = None,
) -> None:
    """``log_likelihood`` of chunk ``chunk`` of ``n_chunks`` of the prior draws (consecutive rows,
    :func:`numpy.array_split`), checked for NaN, ``+inf`` and shape; one job per chunk, so an
    expensive likelihood runs in parallel, and within a chunk over ``pool`` processes
    (:func:`lwflow.problems.likelihoods.likelihood_pool`).  A flushed log line after every batch of rows."""
    from lwflow.fitting.weights import evaluate_log_likelihood
    from lwflow.problems import problem_from_spec
    from lwflow.problems.likelihoods import likelihood_pool

    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} does not exist: problem {name!r} has likelihood_chunks {n_chunks}")
    problem = problem_from_spec(name, spec)
    draws = read_npz(prior)
    theta = np.array_split(draws["theta"], n_chunks)[chunk]
    if "log_prior" in draws:
        check_prior_unchanged(problem, theta, np.array_split(draws["log_prior"], n_chunks)[chunk], Path(prior))

    def progress(done: int, total: int) -> None:
        print(f"chunk {chunk + 1}/{n_chunks}: {done}/{total} rows", flush=True)
        if on_rows is not None:
            on_rows(done, total)

    with likelihood_pool(problem.log_likelihood, pool) as pooled:
        pooled_problem = dataclasses.replace(problem, log_likelihood=pooled, vectorized=True)
        log_likelihood = evaluate_log_likelihood(pooled_problem, theta, progress=progress)
    write_npz(output, {"log_likelihood": log_likelihood}, provenance)
    n_nonzero = np.isfinite(log_likelihood).sum()
    print(f"chunk {chunk + 1}/{n_chunks}: {n_nonzero} of {len(theta)} samples have nonzero likelihood")


def check_prior_unchanged(problem: Any, theta: np.ndarray, log_prior: np.ndarray, draws: Path) -> None:
    """Refuse draws whose recorded log-prior is not the problem's prior now.  The draws' job reads
    the problem's module only, so a data file edit reruns the likelihood but not the draws; a
    prior built from the data would otherwise be weighed against draws of the old one."""
    now = problem.prior.log_prob(theta)
    row = first_changed_row(log_prior, now)
    if row is not None:
        raise ValueError(
            f"the prior of problem {problem.name!r} changed since {draws} was drawn (log-prior {log_prior[row]:.6g} "
            f"then, {now[row]:.6g} now, at {theta[row].tolist()}): its prior depends on a data file; remake the "
            f"draws: snakemake --cores 1 --forcerun sample_prior propose_round"
        )


def gather_likelihood(chunks: list[Path], output: Path, provenance: Provenance) -> None:
    """The chunks' log-likelihoods in prior-draw order; stops if no draw has nonzero likelihood."""
    log_likelihood = np.concatenate([read_npz(path)["log_likelihood"] for path in chunks])
    weights_from_log_likelihood(log_likelihood)
    write_npz(output, {"log_likelihood": log_likelihood}, provenance)
    print(f"{np.isfinite(log_likelihood).sum()} of {len(log_likelihood)} samples have nonzero likelihood")


def clip_weights(
    likelihood: Path, config: ClippingConfig, weights_out: Path, report_out: Path, provenance: Provenance
) -> None:
    """Normalised, clipped weights and a report of ESS and largest weight share before/after,
    with the evidence estimate of the prior draws and the gates that held; stops where the ESS
    before or after clipping is below ``config.min_ess``."""
    from lwflow.fitting.weights import log_evidence, training_weights

    log_likelihood = read_npz(likelihood)["log_likelihood"]
    clipped, report = training_weights(log_likelihood, config)
    log_z, log_z_se = log_evidence(log_likelihood)
    print(report, flush=True)
    gates = {
        "min_ess": config.min_ess,
        "min_ess_held_on": ["ess_before", "ess_after"],
        "max_ess_gain": config.max_ess_gain,
    }
    write_npz(weights_out, {"weights": clipped}, provenance)
    write_json(report_out, report.as_dict() | gates | {"log_evidence": log_z, "log_evidence_se": log_z_se}, provenance)
