"""Rule paper_b_fig1: mixture weights per dataset, AMF-VI (EMA) and EM."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:
    jobs.paper_b_weights_figure(
        snakemake.params.weights,
        snakemake.output.png,
        snakemake.output.pdf,
        provenance,
    )
