"""Rule sample_model: one trained model's samples with their log-density, and its posterior summary."""

import torch  # noqa: F401  (imported first so job_context sets its threads)

from lwflow.stages import jobs

cfg = snakemake.params.config_slice  # noqa: F821
w, output = snakemake.wildcards, snakemake.output  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.sample_model(
        w.problem,
        cfg["problem"],
        w.fit,
        f"{w.arch}_K{w.modes} (fit on {w.fit})",
        snakemake.input.model,  # noqa: F821
        snakemake.input.modes,  # noqa: F821
        snakemake.input.get("report"),  # noqa: F821
        cfg,
        int(w.seed),
        {key: output[key] for key in ("samples", "summary", "summary_markdown")},
        provenance,
    )
