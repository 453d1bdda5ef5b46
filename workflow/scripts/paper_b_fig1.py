"""Rule paper_b_fig1: mixture weights per dataset, AMF-VI (EMA) and EM."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.paper_b_weights_figure(
        snakemake.params.weights,  # noqa: F821
        snakemake.output.png,  # noqa: F821
        snakemake.output.pdf,  # noqa: F821
        provenance,
    )
