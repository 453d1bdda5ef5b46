"""Rules model_metrics_*: NLL, KL, W1,avg, sliced W1, W2, MMD^2 and bridge mass of the models of
one scoring group (workflow/rules/evaluate.smk) for one seed."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import jobs

cfg = snakemake.params.config_slice  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.model_metrics(
        snakemake.params.problem,  # noqa: F821
        cfg["problem"],
        snakemake.input.models,  # noqa: F821
        snakemake.input.samples,  # noqa: F821
        snakemake.input.reference,  # noqa: F821
        cfg["evaluation"],
        snakemake.output.metrics,  # noqa: F821
        snakemake.output.log_q,  # noqa: F821
        provenance,
    )
