"""Rule problem_summary: every model's posterior summary of one problem in one table."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.problem_summary(
        list(snakemake.input),  # noqa: F821
        snakemake.output.csv,  # noqa: F821
        snakemake.output.markdown,  # noqa: F821
        snakemake.output.html,  # noqa: F821
        provenance,
    )
