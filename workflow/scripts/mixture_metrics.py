"""Rule mixture_metrics: every metric of the AMF-VI and EM mixtures."""

from lwflow.stages import evaluate, jobs

cfg = snakemake.params.config_slice
with jobs.job_context(snakemake) as provenance:
    evaluate.mixture_metrics(
        snakemake.wildcards.problem,
        cfg["problem"],
        snakemake.input.weights,
        snakemake.params.paths["log_q"],
        snakemake.params.paths["samples"],
        snakemake.input.reference,
        cfg["evaluation"],
        int(snakemake.wildcards.seed),
        snakemake.output.metrics,
        snakemake.output.samples,
        provenance,
    )
