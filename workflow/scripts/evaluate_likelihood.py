"""Rule evaluate_likelihood: log-likelihood of every prior draw."""

from lwflow import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.evaluate_likelihood(
        snakemake.wildcards.problem,  # noqa: F821
        snakemake.params.config_slice["problem"],  # noqa: F821
        snakemake.input[0],  # noqa: F821
        snakemake.output[0],  # noqa: F821
        provenance,
    )
