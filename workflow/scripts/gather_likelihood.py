"""Rule gather_likelihood: the chunks' log-likelihoods in prior-draw order."""

from lwflow.stages import data, jobs

with jobs.job_context(snakemake) as provenance:
    data.gather_likelihood(list(snakemake.input), snakemake.output[0], provenance)
