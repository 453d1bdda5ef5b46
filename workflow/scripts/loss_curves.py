"""Rule loss_curves: training curves of every model of one problem."""

from lwflow.stages import jobs, report

with jobs.job_context(snakemake) as provenance:
    report.loss_curves(
        snakemake.wildcards.problem,
        snakemake.params.histories,
        snakemake.output.png,
        snakemake.output.pdf,
        provenance,
    )
