"""Rule train_round: the flow of one adaptive round that another round follows, trained on
the pooled draws at the round's tempering; it proposes the next round's draws."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.fitting.rounds import round_training_seed
from lwflow.stages import jobs, train

w, output = snakemake.wildcards, snakemake.output
with jobs.job_context(snakemake) as provenance:
    train.train_with_settings(
        w.problem,
        snakemake.params.config_slice,
        snakemake.input.pool,
        snakemake.input.pool,
        snakemake.config["training"]["device"],
        round_training_seed(int(w.seed), int(w.round), last=False),
        {key: output[key] for key in ("model", "loss", "modes")},
        provenance,
        warm_start=snakemake.input.get("warm_start"),
    )
