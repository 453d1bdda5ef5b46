"""Rule clip_weights: normalised, clipped weights and the ESS report."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.clip_weights(
        snakemake.input[0],  # noqa: F821
        snakemake.config["clipping"],  # noqa: F821  (its gates too: min_ess and max_ess_gain are no rerun triggers)
        snakemake.output.weights,  # noqa: F821
        snakemake.output.report,  # noqa: F821
        provenance,
    )
