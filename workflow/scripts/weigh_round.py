"""Checkpoint weigh_round: pool one adaptive round's draws with the earlier rounds', weigh them
and decide whether another round follows."""

from lwflow.stages import jobs

inputs, output = snakemake.input, snakemake.output  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.weigh_round(
        snakemake.params.config_slice["adaptive"],  # noqa: F821
        inputs.draws,
        inputs.likelihood,
        {"pool": inputs.pool, "report": inputs.report} if inputs.get("pool") else None,
        list(inputs.get("proposals", [])),
        {"pool": output.pool, "report": output.record},
        provenance,
    )
