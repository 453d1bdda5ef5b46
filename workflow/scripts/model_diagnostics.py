"""Rule model_diagnostics: pair plot of one model's samples over the truth."""

from lwflow.stages import jobs, report

background = {k: v for k, v in snakemake.input.items() if k not in ("samples", "modes")}
with jobs.job_context(snakemake) as provenance:
    report.model_diagnostics(
        snakemake.wildcards.problem,
        snakemake.params.config_slice["problem"],
        snakemake.params.label,
        snakemake.input.samples,
        snakemake.input.modes,
        background,
        int(snakemake.wildcards.seed),
        snakemake.output[0],
        provenance,
    )
