"""Rule train_flow: one model, likelihood-weighted (fit likelihood), on exact draws (fit samples)
or on the last adaptive round's pool (fit adaptive)."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import jobs, train

w, output = snakemake.wildcards, snakemake.output
with jobs.job_context(snakemake) as provenance:
    train.train_with_settings(
        w.problem,
        snakemake.params.config_slice,
        snakemake.input.theta,
        snakemake.input.get("weights"),
        snakemake.config["training"]["device"],
        int(w.seed),
        {key: output[key] for key in ("model", "loss", "modes")},
        provenance,
        snakemake.input.get("report"),
    )
