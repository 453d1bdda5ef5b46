"""Rule evaluate_likelihood: log-likelihood of one chunk of the prior draws."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    cfg = snakemake.params.config_slice  # noqa: F821
    jobs.evaluate_likelihood(
        snakemake.wildcards.problem,  # noqa: F821
        cfg["problem"],
        snakemake.input[0],  # noqa: F821
        int(snakemake.wildcards.chunk),  # noqa: F821
        int(cfg["likelihood_chunks"]),
        snakemake.output[0],  # noqa: F821
        provenance,
    )
