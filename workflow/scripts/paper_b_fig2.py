"""Rule paper_b_fig2: exact and model samples on the six targets."""

from lwflow.stages import jobs, report

with jobs.job_context(snakemake) as provenance:
    report.paper_b_samples_figure(
        snakemake.params.rows,
        snakemake.output.png,
        snakemake.output.pdf,
        provenance,
    )
