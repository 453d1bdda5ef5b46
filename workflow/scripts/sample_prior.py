"""Rule sample_prior: prior draws for one (problem, seed)."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.sample_prior(
        snakemake.wildcards.problem,  # noqa: F821
        snakemake.params.config_slice["problem"],  # noqa: F821
        int(snakemake.wildcards.seed),  # noqa: F821
        snakemake.output[0],  # noqa: F821
        provenance,
    )
