"""One runner for every rule of the workflow: ``run(snakemake)`` runs the stage that the job's rule
names, inside :func:`lwflow.stages.jobs.job_context`.  Every rule's ``script:`` is
``workflow/scripts/stage.py``, whose one statement calls it.

Each entry of :data:`STAGES` reads one rule's named inputs, outputs, wildcards and settings
(``params.config_slice``: what the plan records, the rerun trigger), builds the stage's typed
settings back from that record (:mod:`lwflow.stages.settings`, the library's dataclasses) and
calls its stage in
:mod:`lwflow.stages.data`, :mod:`~lwflow.stages.rounds`, :mod:`~lwflow.stages.train`,
:mod:`~lwflow.stages.evaluate`, :mod:`~lwflow.stages.summary` or :mod:`~lwflow.stages.report`.
Compute-only settings (where training runs, the clipping gates) are no rerun trigger, so they
are not in ``config_slice``; they reach the stages that use them as their own argument, taken
from the run's config by :func:`lwflow.stages.plan.compute_settings`.

The stage modules import what is slow to import (torch, pandas, scipy.stats, matplotlib) inside the
stages that use it, so importing all six here costs a job 0.1 s beyond numpy (0.37 s in all,
``python -X importtime`` on a quiet 2-core machine; 0.86 s when pandas came with them).

``job`` is any object with Snakemake's job attributes (``rule, input, output, params, wildcards,
log, threads, config``), so a stage can be run by this runner without Snakemake.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lwflow.artefacts import Provenance
from lwflow.settings import AdaptiveConfig, AMFVIConfig, ClippingConfig, EvaluationConfig
from lwflow.stages import data, evaluate, report, rounds, summary, train
from lwflow.stages.jobs import job_context
from lwflow.stages.plan import compute_settings, generated_family
from lwflow.stages.settings import ModelSettings, SamplingSettings

__all__ = ["STAGES", "run", "stage_of"]

Stage = Callable[[Any, Provenance], None]


def _sample_prior(job: Any, provenance: Provenance) -> None:
    w = job.wildcards
    spec = job.params.config_slice["problem"]
    data.sample_prior(w.problem, spec, int(w.seed), job.output[0], provenance)


def _evaluate_likelihood(job: Any, provenance: Provenance) -> None:
    w, settings = job.wildcards, job.params.config_slice
    data.evaluate_likelihood(
        w.problem, settings["problem"], job.input[0], int(w.chunk), int(settings["likelihood_chunks"]),
        job.output[0], provenance,
    )  # fmt: skip


def _gather_likelihood(job: Any, provenance: Provenance) -> None:
    data.gather_likelihood(list(job.input), job.output[0], provenance)


def _clip_weights(job: Any, provenance: Provenance) -> None:
    gates = compute_settings(job.config)["clipping"]  # compute-only: they stop a job, no rerun trigger
    clipping = ClippingConfig(**job.params.config_slice["clipping"], **gates)
    data.clip_weights(job.input[0], clipping, job.output.weights, job.output.report, provenance)


def _sample_target(job: Any, provenance: Provenance) -> None:
    w = job.wildcards
    spec = job.params.config_slice["problem"]
    data.sample_target(w.problem, spec, int(spec["n_target_samples"]), int(w.seed), job.output[0], provenance)


def _propose_round(job: Any, provenance: Provenance) -> None:
    w, settings = job.wildcards, job.params.config_slice  # adaptive: the three fields the rule records
    rounds.propose_round(
        w.problem, settings["problem"], AdaptiveConfig(**settings["adaptive"]), job.input.get("proposal"),
        job.input.get("last_report"), int(w.seed), int(w.round), job.output[0], provenance,
    )  # fmt: skip


def _weigh_round(job: Any, provenance: Provenance) -> None:
    inputs, output = job.input, job.output
    rounds.weigh_round(
        AdaptiveConfig(**job.params.config_slice["adaptive"]),
        inputs.draws,
        inputs.likelihood,
        {"pool": inputs.pool, "report": inputs.report} if inputs.get("pool") else None,
        list(inputs.get("proposals", [])),
        {"pool": output.pool, "report": output.record},
        provenance,
    )


def _model_outputs(job: Any) -> dict[str, Path]:
    return {key: job.output[key] for key in ("model", "loss", "modes")}


def _train_flow(job: Any, provenance: Provenance) -> None:
    w = job.wildcards
    train.train(
        w.problem, ModelSettings.from_recorded(job.params.config_slice), job.input.theta, job.input.get("weights"),
        int(w.seed), _model_outputs(job), provenance, compute_settings(job.config)["training"]["device"],
        report=job.input.get("report"),
    )  # fmt: skip


def _train_round(job: Any, provenance: Provenance) -> None:
    from lwflow.fitting.rounds import round_training_seed

    w = job.wildcards
    train.train(
        w.problem, ModelSettings.from_recorded(job.params.config_slice), job.input.pool, job.input.pool,
        round_training_seed(int(w.seed), int(w.round), last=False), _model_outputs(job), provenance,
        compute_settings(job.config)["training"]["device"], warm_start=job.input.get("warm_start"),
    )  # fmt: skip


def _sample_models(job: Any, provenance: Provenance) -> None:
    """Each model of the job's group (``params.members``, its (arch, modes) pairs, in the order
    of the inputs and outputs): its draws, check and summary (:func:`lwflow.stages.train.sample_model`),
    each artefact's sidecar naming that model's inputs only.  Each model's artefacts are written
    as it is sampled; the workflow marks the outputs ``update``, so when one model fails
    Snakemake restores the group's earlier draws instead of deleting them."""
    inputs, output, seed = job.input, job.output, int(job.wildcards.seed)
    settings = SamplingSettings.from_recorded(job.params.config_slice)
    reports = list(inputs.get("reports", [])) or [None] * len(job.params.members)
    known = provenance.input_hashes or {}
    for i, (arch, modes) in enumerate(job.params.members):
        own = [str(p) for p in (inputs.models[i], inputs.modes[i], reports[i]) if p is not None]
        hashes = {path: known[path] for path in own if path in known}
        train.sample_model(
            job.params.problem, settings, job.params.fit, f"{arch}_K{modes} (fit on {job.params.fit})",
            inputs.models[i], inputs.modes[i], reports[i], seed,
            {key: output[key][i] for key in ("samples", "summary", "summary_markdown")},
            dataclasses.replace(provenance, inputs=own, input_hashes=hashes),
        )  # fmt: skip


def _truth_reference(job: Any, provenance: Provenance) -> None:
    w, settings = job.wildcards, job.params.config_slice
    evaluate.truth_reference(
        w.problem, settings["problem"], EvaluationConfig(**settings["evaluation"]), int(w.seed), job.output.reference,
        job.output.floor, provenance,
    )  # fmt: skip


def _model_metrics(job: Any, provenance: Provenance) -> None:
    settings, inputs = job.params.config_slice, job.input
    evaluate.model_metrics(
        job.params.problem, settings["problem"], inputs.models, inputs.samples, inputs.reference,
        EvaluationConfig(**settings["evaluation"]), job.output.metrics, job.output.log_q, provenance,
    )  # fmt: skip


def _amfvi_weights(job: Any, provenance: Provenance) -> None:
    w, settings = job.wildcards, job.params.config_slice
    evaluate.amfvi_weights(
        w.problem, settings["problem"], w.fit, job.params.experts, AMFVIConfig(**settings["amfvi"]), int(w.seed),
        job.output.weights, job.output.trajectory, provenance,
    )  # fmt: skip


def _mixture_metrics(job: Any, provenance: Provenance) -> None:
    w, settings, paths = job.wildcards, job.params.config_slice, job.params.paths
    evaluate.mixture_metrics(
        w.problem, settings["problem"], job.input.weights, paths["log_q"], paths["samples"], job.input.reference,
        EvaluationConfig(**settings["evaluation"]), int(w.seed), job.output.metrics, job.output.samples, provenance,
    )  # fmt: skip


def _problem_summary(job: Any, provenance: Provenance) -> None:
    output = job.output
    summary.problem_summary(list(job.input), output.csv, output.markdown, output.html, provenance)


def _summary_table(job: Any, provenance: Provenance) -> None:
    output = job.output
    report.paper_table(
        Path(output.csv).stem, job.params.rows, tuple(job.params.metrics), output.csv, output.markdown,
        output.html, output.seeds, provenance,
    )  # fmt: skip


def _paper_a_figure(job: Any, provenance: Provenance) -> None:
    output = job.output
    report.paper_a_figure(job.wildcards.figure, job.params.title, job.params.panels, output.png, output.pdf, provenance)


def _loss_curves(job: Any, provenance: Provenance) -> None:
    output = job.output
    report.loss_curves(job.wildcards.problem, job.params.histories, output.png, output.pdf, provenance)


def _model_diagnostics(job: Any, provenance: Provenance) -> None:
    w, inputs = job.wildcards, job.input
    background = {k: v for k, v in inputs.items() if k not in ("samples", "modes")}
    report.model_diagnostics(
        w.problem, job.params.config_slice["problem"], job.params.label, inputs.samples, inputs.modes, background,
        int(w.seed), job.output[0], provenance,
    )  # fmt: skip


def _paper_b_fig1(job: Any, provenance: Provenance) -> None:
    report.paper_b_weights_figure(job.params.weights, job.output.png, job.output.pdf, provenance)


def _paper_b_fig2(job: Any, provenance: Provenance) -> None:
    report.paper_b_samples_figure(job.params.rows, job.output.png, job.output.pdf, provenance)


def _results_page(job: Any, provenance: Provenance) -> None:
    tables = dict(zip(job.params.tables, job.input.tables))
    report.results_page(job.input.template, tables, job.output[0], provenance)


STAGES: dict[str, Stage] = {
    "sample_prior": _sample_prior,
    "evaluate_likelihood": _evaluate_likelihood,
    "gather_likelihood": _gather_likelihood,
    "clip_weights": _clip_weights,
    "sample_target": _sample_target,
    "propose_round": _propose_round,
    "weigh_round": _weigh_round,
    "train_round": _train_round,
    "train_flow": _train_flow,
    "sample_models": _sample_models,
    "truth_reference": _truth_reference,
    "model_metrics": _model_metrics,
    "amfvi_weights": _amfvi_weights,
    "mixture_metrics": _mixture_metrics,
    "problem_summary": _problem_summary,
    "summary_table": _summary_table,
    "paper_a_figure": _paper_a_figure,
    "loss_curves": _loss_curves,
    "model_diagnostics": _model_diagnostics,
    "paper_b_fig1": _paper_b_fig1,
    "paper_b_fig2": _paper_b_fig2,
    "results_page": _results_page,
}
"""Rule (family) name -> the function that runs its stage from the job."""

# Rules that run the stage of another name: the rounds' likelihood stages and the long-format tables
_SAME_STAGE = {
    "evaluate_round_likelihood": "evaluate_likelihood",
    "gather_round_likelihood": "gather_likelihood",
    "paper_a_table": "summary_table",
    "paper_b_table": "summary_table",
    "amfvi_likelihood_table": "summary_table",
    "auto_modes_table": "summary_table",
}
# Stages that load or train a flow: torch is imported before the job's context sets its threads
_TORCH_STAGES = {"train_flow", "train_round", "sample_models", "model_metrics", "amfvi_weights"}


def stage_of(rule: str) -> str:
    """The stage a rule runs: its own name, ``model_metrics`` and ``sample_models`` for the
    generated ``model_metrics_<group>`` and ``sample_models_<group>`` rules, the shared stage
    of the rules in ``_SAME_STAGE``.

    Example::

        >>> stage_of("model_metrics_likelihood_gmm2d_3mode_seeds0_1"), stage_of("paper_b_table")
        ('model_metrics', 'summary_table')
        >>> stage_of("sample_models_adaptive_gmm2d_2mode_seeds0")
        'sample_models'
    """
    return generated_family(rule) or _SAME_STAGE.get(rule, rule)


def run(job: Any) -> None:
    """Run the stage of ``job.rule`` (:func:`stage_of`) inside the job's context."""
    stage = stage_of(job.rule)
    if stage not in STAGES:
        raise KeyError(f"rule {job.rule!r} has no stage in lwflow.stages.runner.STAGES; add one there")
    if stage in _TORCH_STAGES:
        import torch  # noqa: F401  (imported before job_context, which sets its threads)
    with job_context(job) as provenance:
        STAGES[stage](job, provenance)
