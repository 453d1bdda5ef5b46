"""Rule mixture_metrics: every metric of the AMF-VI and EM mixtures."""

from lwflow.stages import jobs

cfg = snakemake.params.config_slice  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.mixture_metrics(
        snakemake.wildcards.problem,  # noqa: F821
        cfg["problem"],
        snakemake.input.weights,  # noqa: F821
        snakemake.params.paths["log_q"],  # noqa: F821
        snakemake.params.paths["samples"],  # noqa: F821
        snakemake.input.reference,  # noqa: F821
        cfg["evaluation"],
        int(snakemake.wildcards.seed),  # noqa: F821
        snakemake.output.metrics,  # noqa: F821
        snakemake.output.samples,  # noqa: F821
        provenance,
    )
