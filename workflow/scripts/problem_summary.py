"""Rule problem_summary: every model's posterior summary of one problem in one table."""

from lwflow.stages import jobs, summary

with jobs.job_context(snakemake) as provenance:
    summary.problem_summary(
        list(snakemake.input),
        snakemake.output.csv,
        snakemake.output.markdown,
        snakemake.output.html,
        provenance,
    )
