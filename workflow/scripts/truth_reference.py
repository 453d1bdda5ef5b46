"""Rule truth_reference: exact posterior samples and truth-vs-truth floors."""

from lwflow.stages import jobs

cfg = snakemake.params.config_slice  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.truth_reference(
        snakemake.wildcards.problem,  # noqa: F821
        cfg["problem"],
        cfg["evaluation"],
        int(snakemake.wildcards.seed),  # noqa: F821
        snakemake.output.reference,  # noqa: F821
        snakemake.output.floor,  # noqa: F821
        provenance,
    )
