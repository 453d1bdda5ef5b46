"""Rule train_flow: one model, likelihood-weighted (fit likelihood) or on exact draws (fit samples)."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow import jobs

cfg = snakemake.params.config_slice  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.train(
        snakemake.wildcards.problem,  # noqa: F821
        cfg["problem"],
        snakemake.input.theta,  # noqa: F821
        snakemake.input.get("weights"),  # noqa: F821
        cfg["flow"],
        {**cfg["training"], "device": snakemake.config["training"]["device"]},  # noqa: F821
        cfg["rbig"],
        cfg["mode_selection"],
        cfg["n_samples"],
        int(snakemake.wildcards.seed),  # noqa: F821
        dict(snakemake.output.items()),  # noqa: F821
        provenance,
    )
