"""Rule paper_a_figure: one of paper A's figures."""

from lwflow.stages import jobs, report

with jobs.job_context(snakemake) as provenance:
    report.paper_a_figure(
        snakemake.wildcards.figure,
        snakemake.params.title,
        snakemake.params.panels,
        snakemake.output.png,
        snakemake.output.pdf,
        provenance,
    )
