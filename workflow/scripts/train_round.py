"""Rule train_round: the flow of one adaptive round that another round follows, trained on
the pooled draws at the round's tempering; it proposes the next round's draws."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.fitting.rounds import round_training_seed
from lwflow.stages import jobs

w, output = snakemake.wildcards, snakemake.output  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.train_with_settings(
        w.problem,
        snakemake.params.config_slice,  # noqa: F821
        snakemake.input.pool,  # noqa: F821
        snakemake.input.pool,  # noqa: F821
        snakemake.config["training"]["device"],  # noqa: F821
        round_training_seed(int(w.seed), int(w.round), last=False),
        {key: output[key] for key in ("model", "loss", "modes")},
        provenance,
    )
