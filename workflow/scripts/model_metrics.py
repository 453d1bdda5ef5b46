"""Rules model_metrics_*: NLL, KL, W1,avg, sliced W1, W2, MMD^2 and bridge mass of the models of
one scoring group (workflow/rules/evaluate.smk) for one seed."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import evaluate, jobs

cfg = snakemake.params.config_slice
with jobs.job_context(snakemake) as provenance:
    evaluate.model_metrics(
        snakemake.params.problem,
        cfg["problem"],
        snakemake.input.models,
        snakemake.input.samples,
        snakemake.input.reference,
        cfg["evaluation"],
        snakemake.output.metrics,
        snakemake.output.log_q,
        provenance,
    )
