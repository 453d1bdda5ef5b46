"""Rule train_flow: one model, likelihood-weighted (fit likelihood) or on exact draws (fit samples),
and its posterior summary."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import jobs

cfg = snakemake.params.config_slice  # noqa: F821
w, output = snakemake.wildcards, snakemake.output  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.train_with_settings(
        w.problem,
        cfg,
        snakemake.input.theta,  # noqa: F821
        snakemake.input.get("weights"),  # noqa: F821
        snakemake.config["training"]["device"],  # noqa: F821
        cfg["n_samples"],
        int(w.seed),
        {key: output[key] for key in ("model", "loss", "samples", "modes")},
        provenance,
    )
    jobs.posterior_summary(
        w.problem,
        cfg["problem"],
        f"{w.arch}_K{w.modes} (fit on {w.fit})",
        output.samples,
        output.modes,
        snakemake.input.get("report"),  # noqa: F821
        output.summary,
        output.summary_markdown,
        provenance,
    )
