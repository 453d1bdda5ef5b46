"""The scoring stages (workflow/rules/evaluate.smk): exact reference draws and floors, every model's
metrics against them, AMF-VI mixture weights and the mixtures' metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lwflow.artefacts import (
    Provenance,
    read_json,
    read_npz,
    write_csv,
    write_json,
    write_npz,
)
from lwflow.settings import AMFVIConfig, EvaluationConfig
from lwflow.stages.jobs import model_check, truth_of
from lwflow.streams import rng_for

__all__ = ["truth_reference", "model_metrics", "amfvi_weights", "mixture_metrics"]


def truth_reference(
    name: str,
    spec: dict[str, Any],
    evaluation: EvaluationConfig,
    seed: int,
    reference_out: Path,
    floor_out: Path,
    provenance: Provenance,
) -> None:
    """Two independent exact posterior samples: one to score models, one for the floors."""
    from lwflow.evaluation.metrics import bridge_mass, log_density_maximum, sample_metrics

    truth = truth_of(name, spec)
    rng = rng_for(seed, "truth")
    n = evaluation.n_samples
    reference, independent = truth.sample(n, rng), truth.sample(n, rng)
    log_p, log_p_independent = truth.log_prob(reference), truth.log_prob(independent)
    log_p_max = log_density_maximum(truth.log_prob, reference)
    floor = sample_metrics(independent, reference, evaluation)
    floor["nll"], floor["kl"], floor["hole_mass"] = float(-log_p_independent.mean()), 0.0, 0.0
    floor["bridge_mass"] = bridge_mass(log_p_independent, log_p_max, evaluation.bridge_fraction)
    write_npz(reference_out, {"samples": reference, "log_p": log_p, "log_p_max": np.array(log_p_max)}, provenance)
    write_json(floor_out, floor, provenance)


def model_metrics(
    name: str,
    spec: dict[str, Any],
    models: Sequence[Path],
    samples: Sequence[Path],
    reference: Path,
    evaluation: EvaluationConfig,
    outputs: Sequence[Path],
    log_q_outputs: Sequence[Path],
    provenance: Provenance,
) -> None:
    """NLL, KL, W1,avg, sliced W1, W2, MMD^2, bridge and hole mass of trained models of one problem
    against its exact posterior; also each one's log-density on the reference sample (for the
    mixtures).  ``models[i]`` (a checkpoint) with its draws ``samples[i]`` is scored into
    ``outputs[i]`` and ``log_q_outputs[i]``; one process scores several, so its imports and
    the exact posterior are paid for once.  All are scored before any is written: the workflow
    marks these outputs ``update``, so when one model cannot be scored Snakemake restores the
    group's earlier metrics instead of deleting them."""
    from lwflow.evaluation.metrics import score_model
    from lwflow.models.flows import load_checkpoint

    groups = (models, samples, outputs, log_q_outputs)
    if len({len(group) for group in groups}) != 1:
        raise ValueError(
            f"model_metrics needs one draws file and two outputs per model; got {[len(g) for g in groups]} "
            "(models, samples, outputs, log_q_outputs)"
        )
    truth = truth_of(name, spec)
    ref = read_npz(reference)
    scored = []
    for model, draws in zip(models, samples, strict=True):  # every model scored before any is written
        log_q = load_checkpoint(model).log_prob(ref["samples"])
        metrics = score_model(truth.log_prob, log_q, read_npz(draws)["samples"], ref, evaluation)
        scored.append((log_q, metrics | {"verdict": model_check(draws).get("verdict")}))
        print(f"{model}: {scored[-1][1]}", flush=True)
    for (log_q, result), model, draws, output, log_q_out in zip(scored, *groups, strict=True):
        own = dataclasses.replace(provenance, inputs=[str(model), str(draws), str(reference)])
        write_npz(log_q_out, {"log_q": log_q}, own)
        write_json(output, result, own)


def amfvi_weights(
    name: str,
    spec: dict[str, Any],
    fit: str,
    experts: dict[str, Path],
    amfvi: AMFVIConfig,
    seed: int,
    output: Path,
    trajectory_out: Path,
    provenance: Provenance,
) -> None:
    """AMF-VI (EMA) and EM mixture weights over the frozen ``experts`` (arch -> checkpoint).

    Fresh batches are exact target draws (``fit == 'samples'``) or fresh prior draws with
    self-normalised likelihood weights (``fit == 'likelihood'``); EM uses all of them.
    """
    import pandas as pd

    from lwflow.fitting.mixture import fresh_batches, mixture_weights
    from lwflow.models.flows import load_checkpoint
    from lwflow.problems import problem_from_spec

    problem = problem_from_spec(name, spec)
    batches = fresh_batches(problem, fit == "samples", amfvi.n_batches, amfvi.batch_size, rng_for(seed, "fresh"))
    models = {arch: load_checkpoint(path) for arch, path in experts.items()}
    result, trajectory = mixture_weights(models, batches, amfvi.beta)
    archs = result["experts"]
    write_json(output, result, provenance)
    write_csv(trajectory_out, pd.DataFrame(trajectory, columns=archs).rename_axis("update").reset_index(), provenance)
    print(result)


def mixture_metrics(
    name: str,
    spec: dict[str, Any],
    weights: Path,
    log_q: dict[str, Path],
    samples: dict[str, Path],
    reference: Path,
    evaluation: EvaluationConfig,
    seed: int,
    output: Path,
    samples_out: Path,
    provenance: Provenance,
) -> None:
    """Every metric of the AMF-VI and EM mixtures (their log-density from the experts' on the
    reference; their samples drawn from the experts' samples by multinomial counts)."""
    from lwflow.evaluation.metrics import effective_number, score_model
    from lwflow.fitting.mixture import mixture_log_prob, mixture_samples

    truth, ref, mix = truth_of(name, spec), read_npz(reference), read_json(weights)
    archs = mix["experts"]
    expert_log_q = np.column_stack([read_npz(log_q[a])["log_q"] for a in archs])
    expert_samples = [read_npz(samples[a])["samples"] for a in archs]
    rng = rng_for(seed, "mixture")
    result, draws = {}, {}
    for method in ("ema", "em"):
        pi = np.array([mix[method][a] for a in archs])
        draws[method] = mixture_samples(expert_samples, pi, min(len(s) for s in expert_samples), rng)
        result[method] = score_model(truth.log_prob, mixture_log_prob(expert_log_q, pi), draws[method], ref, evaluation)
        result[method]["n_eff"] = effective_number(pi)
    write_npz(samples_out, draws, provenance)
    write_json(output, result, provenance)
    print(result)
