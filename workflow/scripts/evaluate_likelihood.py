"""Rule evaluate_likelihood: log-likelihood of one chunk of the prior draws."""

from lwflow.stages import data, jobs

with jobs.job_context(snakemake) as provenance:
    cfg = snakemake.params.config_slice
    data.evaluate_likelihood(
        snakemake.wildcards.problem,
        cfg["problem"],
        snakemake.input[0],
        int(snakemake.wildcards.chunk),
        int(cfg["likelihood_chunks"]),
        snakemake.output[0],
        provenance,
    )
