"""Rule results_page: one page of docs/results (outputs.results_pages) from the workflow's tables."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.results_page(
        snakemake.input.template,  # noqa: F821
        dict(zip(snakemake.params.tables, snakemake.input.tables)),  # noqa: F821
        snakemake.output[0],  # noqa: F821
        provenance,
    )
