"""Rule paper_b_fig1: mixture weights per dataset, AMF-VI (EMA) and EM."""

from lwflow.stages import jobs, report

with jobs.job_context(snakemake) as provenance:
    report.paper_b_weights_figure(
        snakemake.params.weights,
        snakemake.output.png,
        snakemake.output.pdf,
        provenance,
    )
