"""Rule sample_target: exact target draws for experiments with fit: samples."""

from lwflow.stages import jobs

spec = snakemake.params.config_slice["problem"]  # noqa: F821
with jobs.job_context(snakemake) as provenance:  # noqa: F821
    jobs.sample_target(
        snakemake.wildcards.problem,  # noqa: F821
        spec,
        int(spec["n_target_samples"]),
        int(snakemake.wildcards.seed),  # noqa: F821
        snakemake.output[0],  # noqa: F821
        provenance,
    )
