"""Rule train_flow: one model, likelihood-weighted (fit likelihood), on exact draws (fit samples)
or on the last adaptive round's pool (fit adaptive)."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import jobs

w, output = snakemake.wildcards, snakemake.output  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.train_with_settings(
        w.problem,
        snakemake.params.config_slice,  # noqa: F821
        snakemake.input.theta,  # noqa: F821
        snakemake.input.get("weights"),  # noqa: F821
        snakemake.config["training"]["device"],  # noqa: F821
        int(w.seed),
        {key: output[key] for key in ("model", "loss", "modes")},
        provenance,
        snakemake.input.get("report"),  # noqa: F821
    )
