"""Rule propose_round: one adaptive round's draws, from the prior or the last round's flow."""

from lwflow.stages import jobs, rounds

cfg = snakemake.params.config_slice
with jobs.job_context(snakemake) as provenance:
    rounds.propose_round(
        snakemake.wildcards.problem,
        cfg["problem"],
        cfg["adaptive"],
        snakemake.input.get("proposal"),
        snakemake.input.get("last_report"),
        int(snakemake.wildcards.seed),
        int(snakemake.wildcards.round),
        snakemake.output[0],
        provenance,
    )
