"""Rule loss_curves: training curves of every model of one problem."""

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:
    jobs.loss_curves(
        snakemake.wildcards.problem,
        snakemake.params.histories,
        snakemake.output.png,
        snakemake.output.pdf,
        provenance,
    )
