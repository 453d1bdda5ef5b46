"""Rule posterior_summary: mean, sd, quantiles, ESS, base modes and log Z of one model."""

from lwflow import jobs

w = snakemake.wildcards  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.posterior_summary(
        w.problem,
        snakemake.params.config_slice["problem"],  # noqa: F821
        f"{w.arch}_K{w.modes} (fit on {w.fit})",
        snakemake.input.samples,  # noqa: F821
        snakemake.input.modes,  # noqa: F821
        snakemake.input.get("report"),  # noqa: F821
        snakemake.output.json,  # noqa: F821
        snakemake.output.markdown,  # noqa: F821
        provenance,
    )
