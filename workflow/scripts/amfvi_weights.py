"""Rule amfvi_weights: AMF-VI (EMA) and EM mixture weights over frozen experts."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import jobs

cfg = snakemake.params.config_slice  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.amfvi_weights(
        snakemake.wildcards.problem,  # noqa: F821
        cfg["problem"],
        snakemake.wildcards.fit,  # noqa: F821
        snakemake.params.experts,  # noqa: F821
        cfg["amfvi"],
        int(snakemake.wildcards.seed),  # noqa: F821
        snakemake.output.weights,  # noqa: F821
        snakemake.output.trajectory,  # noqa: F821
        provenance,
    )
