"""Checkpoint weigh_round: pool one adaptive round's draws with the earlier rounds', weigh them
and decide whether another round follows."""

from lwflow.stages import jobs, rounds

inputs, output = snakemake.input, snakemake.output
with jobs.job_context(snakemake) as provenance:
    rounds.weigh_round(
        snakemake.params.config_slice["adaptive"],
        inputs.draws,
        inputs.likelihood,
        {"pool": inputs.pool, "report": inputs.report} if inputs.get("pool") else None,
        list(inputs.get("proposals", [])),
        {"pool": output.pool, "report": output.record},
        provenance,
    )
