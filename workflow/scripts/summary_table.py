"""Rules paper_a_table, paper_b_table, amfvi_likelihood_table, auto_modes_table: long-format tables."""

from pathlib import Path

from lwflow.stages import jobs, report

with jobs.job_context(snakemake) as provenance:
    report.paper_table(
        Path(snakemake.output.csv).stem,
        snakemake.params.rows,
        tuple(snakemake.params.metrics),
        snakemake.output.csv,
        snakemake.output.markdown,
        snakemake.output.html,
        snakemake.output.seeds,
        provenance,
    )
