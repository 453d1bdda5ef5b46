"""Rule model_diagnostics: pair plot of one model's samples over the truth."""

from lwflow.stages import jobs

background = {k: v for k, v in snakemake.input.items() if k not in ("samples", "modes")}  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.model_diagnostics(
        snakemake.wildcards.problem,  # noqa: F821
        snakemake.params.config_slice["problem"],  # noqa: F821
        snakemake.params.label,  # noqa: F821
        snakemake.input.samples,  # noqa: F821
        snakemake.input.modes,  # noqa: F821
        background,
        int(snakemake.wildcards.seed),  # noqa: F821
        snakemake.output[0],  # noqa: F821
        provenance,
    )
