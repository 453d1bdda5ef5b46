"""Rule problem_summary: every model's posterior summary of one problem in one table."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.problem_summary(list(snakemake.input), snakemake.output.csv, snakemake.output.markdown, provenance)  # noqa: F821
