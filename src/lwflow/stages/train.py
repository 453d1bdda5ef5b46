"""The training stages (workflow/rules/train.smk and the rounds' train_round): one model trained
on weighted draws, then its samples, its check against the likelihood and its summary."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lwflow.artefacts import (
    Provenance,
    read_json,
    read_npz,
    read_sidecar,
    sidecar_path,
    write_csv,
    write_json,
    write_npz,
    write_sidecar,
    write_text,
)
from lwflow.stages.settings import ModelSettings, SamplingSettings
from lwflow.streams import rng_for, seed_for

__all__ = ["train", "sample_model"]


def train(
    name: str,
    settings: ModelSettings,
    theta_path: Path,
    weights_path: Path | None,
    seed: int,
    outputs: dict[str, Path],
    provenance: Provenance,
    device: str = "auto",
    report: Path | None = None,
    warm_start: Path | None = None,
    on_step: Callable[[dict[str, float]], None] | None = None,
) -> None:
    """Train one model on ``theta`` with weights (all equal without ``weights_path``) by
    :func:`lwflow.fitting.model_fit.fit_model`, restricted to the prior's support; write its
    checkpoint, loss history and base-modes record (``outputs``: ``model``, ``loss``, ``modes``).
    Its samples are another job's (:func:`sample_model`), so that their number reruns no training.
    A flushed log line per evaluation step (and ``on_step`` called with its record).

    Arguments:
        settings: the model, its training and the sections it reads
            (:class:`~lwflow.stages.settings.ModelSettings`).
        device: where training runs (compute-only: ``auto``, ``cpu``, ``cuda``).
        report: the training data's report, whose ``beta`` (adaptive rounds) the base refinement
            reads: a final flow's base is refined where ``settings.refine`` says
            (:mod:`lwflow.fitting.refine`; on the rounds' evidence draws where ``weights_path``
            is their pool), not after rounds that stopped at ``beta`` < 1; its record goes in
            the checkpoint's sidecar.
        warm_start: an adaptive round's flow that a round's flow starts from for
            ``settings.warm_start_steps`` steps where it has the base modes chosen.
    """
    from lwflow.fitting.model_fit import fit_model
    from lwflow.fitting.refine import refine_base
    from lwflow.fitting.rounds import Pool, evidence_importance_draws
    from lwflow.models.flows import load_checkpoint, save_checkpoint
    from lwflow.problems import problem_from_spec

    def progress(record: dict[str, float]) -> None:
        print(f"step {record['step']}: train {record['train_loss']:.4f} val {record['val_loss']:.4f}", flush=True)
        if on_step is not None:
            on_step(record)

    problem = problem_from_spec(name, settings.problem)
    theta = read_npz(theta_path)["theta"]
    data = read_npz(weights_path) if weights_path is not None else {}
    w = data["weights"] if weights_path is not None else np.ones(len(theta))
    fitted = fit_model(
        theta,
        w,
        problem.prior.support(),
        settings.flow,
        seed,
        settings.training_on(device),
        settings.rbig,
        settings.mode_selection,
        progress=progress,
        warm_start=None if warm_start is None else load_checkpoint(warm_start),
        warm_steps=settings.warm_start_steps or 0,
    )
    if settings.refine is not None:
        beta = read_json(report).get("beta") if report is not None else None
        draws = evidence_importance_draws(Pool.from_arrays(data)) if "log_proposals" in data else None
        fitted.model, fitted.facts["refinement"] = refine_base(
            fitted.model, problem, settings.refine, seed, beta, draws
        )
        print(f"base refined: {fitted.facts['refinement']}", flush=True)
    if "device" in fitted.facts:
        print(f"trained on {fitted.facts['device']}: {fitted.facts['device_reason']}", flush=True)
    write_json(outputs["modes"], fitted.modes, provenance)
    provenance.extra = fitted.facts
    save_checkpoint(outputs["model"], fitted.model, fitted.architecture)
    write_sidecar(outputs["model"], provenance)
    write_csv(outputs["loss"], fitted.history, provenance)
    print(fitted.history.tail().to_string(index=False))


def _fit_calls(fit: str, spec: dict[str, Any], report: dict[str, Any], model: Path) -> int:
    """The likelihood calls of a workflow model's fit: its prior draws, its rounds' draws, or none
    (trained on exact draws), and its base refinement's draws (from the checkpoint's sidecar)."""
    refined = int((read_sidecar(sidecar_path(model)).get("refinement") or {}).get("n_draws", 0))
    if fit == "adaptive":
        return int(report["n_likelihood_calls"]) + refined
    return (int(spec.get("n_prior_samples", 0)) if fit == "likelihood" else 0) + refined


def _check_model(problem: Any, fitted: Any, fit: str, report: dict[str, Any], check: Any, seed: int) -> Any:
    """The check of a workflow model: against the weights' or the last round's evidence, with the
    rounds' stop and beta for adaptive fits."""
    from lwflow.fitting.verdict import advice_for, check_posterior

    evidence = (report["log_evidence"], report["log_evidence_se"]) if "log_evidence" in report else None
    rounds = report.get("rounds") or [{}]
    stop, beta = rounds[-1].get("next"), rounds[-1].get("beta")
    proposal = {"likelihood": "prior"}.get(fit, fit)
    advice = advice_for(proposal, stop, report.get("n_likelihood_calls"), report.get("adaptive"))
    rng = rng_for(seed, "check")
    return check_posterior(fitted, problem, check, rng, evidence, stop, beta, advice)


def sample_model(
    name: str,
    settings: SamplingSettings,
    fit: str,
    label: str,
    model: Path,
    modes: Path,
    weights_report: Path | None,
    seed: int,
    outputs: dict[str, Path],
    provenance: Provenance,
) -> None:
    """``settings.n_samples`` draws of one trained model with their log-density
    (``outputs['samples']``), its check against the likelihood (:mod:`lwflow.fitting.verdict`,
    settings ``settings.check``; in the samples' sidecar) and what a scientist reads first
    about that posterior (``summary``, ``summary_markdown``): the verdict, per parameter the mean,
    sd and 5/50/95 % quantiles of the draws (names from the problem), with the ESS before and
    after clipping, the chosen base modes and :math:`\\log \\hat Z \\pm` se (fit on the
    likelihood or adaptive).  A ``not trusted`` verdict is a ``WARNING:`` line in the log."""
    import pandas as pd

    from lwflow.evaluation.tables import markdown_table
    from lwflow.fitting.posterior import check_headline, summarise_samples
    from lwflow.models.flows import load_checkpoint
    from lwflow.problems import problem_from_spec

    fitted = load_checkpoint(model)
    problem = problem_from_spec(name, settings.problem)
    report = read_json(weights_report) if weights_report is not None else {}
    check = _check_model(problem, fitted, fit, report, settings.check, seed)
    samples = fitted.sample(settings.n_samples, seed_for(seed, "model_samples"))
    checked = dataclasses.replace(provenance, extra={"check": check.as_dict()})  # read back by model_check
    write_npz(outputs["samples"], {"samples": samples, "log_q": fitted.log_prob(samples)}, checked)
    frame = summarise_samples(samples, problem.names)
    headline = (
        {
            "problem": name,
            "model": label,
            "seed": provenance.seed,
            "n_modes": read_json(modes)["n_modes"],
            "ess_before_clipping": report.get("ess_before"),
            "ess": report.get("ess_after"),
            "log_evidence": report.get("log_evidence"),
            "log_evidence_se": report.get("log_evidence_se"),
            "n_likelihood_calls": _fit_calls(fit, settings.problem, report, model) + check.n_draws,
        }
        | check_headline(check)
        | {"warning": check.warning}
    )
    write_json(outputs["summary"], headline | {"parameters": frame.to_dict(orient="records")}, provenance)
    in_line = set(check_headline(check)) - {"verdict"}  # the verdict line above the table says them
    shown = {k: v for k, v in headline.items() if v is not None and k not in in_line | {"warning"}}
    facts = markdown_table(pd.DataFrame([shown]))
    notes = "".join(f"\n**{key}**: {headline[key]}\n" for key in ("advice", "warning") if headline[key])
    write_text(outputs["summary_markdown"], f"{check.line()}\n\n{facts}{notes}\n{markdown_table(frame)}", provenance)
    print(f"{len(samples)} samples of {label}; {check.line()}", flush=True)
    if check.warning is not None:
        print(f"WARNING: {check.warning}", flush=True)
