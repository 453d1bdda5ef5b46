"""Rule results_page: one page of docs/results (outputs.results_pages) from the workflow's tables."""

from lwflow.stages import jobs, report

with jobs.job_context(snakemake) as provenance:
    report.results_page(
        snakemake.input.template,
        dict(zip(snakemake.params.tables, snakemake.input.tables)),
        snakemake.output[0],
        provenance,
    )
