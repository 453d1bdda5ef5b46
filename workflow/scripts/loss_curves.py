"""Rule loss_curves: training curves of every model of one problem."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.loss_curves(
        snakemake.wildcards.problem,  # noqa: F821
        snakemake.params.histories,  # noqa: F821
        snakemake.output.png,  # noqa: F821
        snakemake.output.pdf,  # noqa: F821
        provenance,
    )
