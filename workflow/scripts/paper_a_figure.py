"""Rule paper_a_figure: one of paper A's figures."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.paper_a_figure(
        snakemake.wildcards.figure,  # noqa: F821
        snakemake.params.title,  # noqa: F821
        snakemake.params.panels,  # noqa: F821
        snakemake.output.png,  # noqa: F821
        snakemake.output.pdf,  # noqa: F821
        provenance,
    )
