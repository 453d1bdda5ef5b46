"""Rule truth_reference: exact posterior samples and truth-vs-truth floors."""

from lwflow.stages import evaluate, jobs

cfg = snakemake.params.config_slice
with jobs.job_context(snakemake) as provenance:
    evaluate.truth_reference(
        snakemake.wildcards.problem,
        cfg["problem"],
        cfg["evaluation"],
        int(snakemake.wildcards.seed),
        snakemake.output.reference,
        snakemake.output.floor,
        provenance,
    )
