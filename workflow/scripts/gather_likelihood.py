"""Rule gather_likelihood: the chunks' log-likelihoods in prior-draw order."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:
    jobs.gather_likelihood(list(snakemake.input), snakemake.output[0], provenance)
