"""Rule model_metrics: NLL, KL, W1,avg, sliced W1, W2, MMD^2 and bridge mass of one model."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow import jobs

cfg = snakemake.params.config_slice  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.model_metrics(
        snakemake.wildcards.problem,  # noqa: F821
        cfg["problem"],
        snakemake.input.model,  # noqa: F821
        snakemake.input.samples,  # noqa: F821
        snakemake.input.reference,  # noqa: F821
        cfg["evaluation"],
        snakemake.output.metrics,  # noqa: F821
        snakemake.output.log_q,  # noqa: F821
        provenance,
    )
