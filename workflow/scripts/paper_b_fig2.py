"""Rule paper_b_fig2: exact and model samples on the six targets."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.paper_b_samples_figure(
        snakemake.params.rows,  # noqa: F821
        snakemake.output.png,  # noqa: F821
        snakemake.output.pdf,  # noqa: F821
        provenance,
    )
