"""Rule propose_round: one adaptive round's draws, from the prior or the last round's flow."""

from lwflow.stages import jobs

cfg = snakemake.params.config_slice  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.propose_round(
        snakemake.wildcards.problem,  # noqa: F821
        cfg["problem"],
        cfg["adaptive"],
        snakemake.input.get("proposal"),  # noqa: F821
        int(snakemake.wildcards.seed),  # noqa: F821
        int(snakemake.wildcards.round),  # noqa: F821
        snakemake.output[0],  # noqa: F821
        provenance,
    )
