"""Rules paper_a_table, paper_b_table, amfvi_likelihood_table, auto_modes_table: long-format tables."""

from pathlib import Path

from lwflow.stages import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.paper_table(
        Path(snakemake.output.csv).stem,  # noqa: F821
        snakemake.params.rows,  # noqa: F821
        tuple(snakemake.params.metrics),  # noqa: F821
        snakemake.output.csv,  # noqa: F821
        snakemake.output.markdown,  # noqa: F821
        snakemake.output.html,  # noqa: F821
        snakemake.output.seeds,  # noqa: F821
        provenance,
    )
