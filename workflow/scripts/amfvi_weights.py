"""Rule amfvi_weights: AMF-VI (EMA) and EM mixture weights over frozen experts."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import evaluate, jobs

cfg = snakemake.params.config_slice
with jobs.job_context(snakemake) as provenance:
    evaluate.amfvi_weights(
        snakemake.wildcards.problem,
        cfg["problem"],
        snakemake.wildcards.fit,
        snakemake.params.experts,
        cfg["amfvi"],
        int(snakemake.wildcards.seed),
        snakemake.output.weights,
        snakemake.output.trajectory,
        provenance,
    )
