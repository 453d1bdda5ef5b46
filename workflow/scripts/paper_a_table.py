"""Rule paper_a_table: one of paper A's tables, reproduced beside the published values."""

from lwflow import jobs

with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.paper_table(
        snakemake.wildcards.table,  # noqa: F821
        snakemake.params.rows,  # noqa: F821
        tuple(snakemake.params.metrics),  # noqa: F821
        snakemake.output.csv,  # noqa: F821
        snakemake.output.markdown,  # noqa: F821
        provenance,
    )
