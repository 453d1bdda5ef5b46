"""Rule sample_prior: prior draws for one (problem, seed)."""

from lwflow.stages import data, jobs

with jobs.job_context(snakemake) as provenance:
    data.sample_prior(
        snakemake.wildcards.problem,
        snakemake.params.config_slice["problem"],
        int(snakemake.wildcards.seed),
        snakemake.output[0],
        provenance,
    )
