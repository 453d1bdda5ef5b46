"""Rule sample_model: one trained model's samples with their log-density, and its posterior summary."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import jobs, train

cfg = snakemake.params.config_slice
w, output = snakemake.wildcards, snakemake.output
with jobs.job_context(snakemake) as provenance:
    train.sample_model(
        w.problem,
        cfg["problem"],
        w.fit,
        f"{w.arch}_K{w.modes} (fit on {w.fit})",
        snakemake.input.model,
        snakemake.input.modes,
        snakemake.input.get("report"),
        cfg,
        int(w.seed),
        {key: output[key] for key in ("samples", "summary", "summary_markdown")},
        provenance,
    )
