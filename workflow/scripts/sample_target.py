"""Rule sample_target: exact target draws for experiments with fit: samples."""

from lwflow.stages import data, jobs

spec = snakemake.params.config_slice["problem"]
with jobs.job_context(snakemake) as provenance:
    data.sample_target(
        snakemake.wildcards.problem,
        spec,
        int(spec["n_target_samples"]),
        int(snakemake.wildcards.seed),
        snakemake.output[0],
        provenance,
    )
