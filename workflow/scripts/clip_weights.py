"""Rule clip_weights: normalised, clipped weights and the ESS report."""

from lwflow.stages import data, jobs

with jobs.job_context(snakemake) as provenance:
    data.clip_weights(
        snakemake.input[0],
        snakemake.config["clipping"],  # its gates too: min_ess and max_ess_gain are no rerun triggers
        snakemake.output.weights,
        snakemake.output.report,
        provenance,
    )
