"""The workflow's side of the library (no Snakemake in it): one function per stage
(:mod:`lwflow.stages.jobs`), the experiment plan (:mod:`lwflow.stages.plan`), the results
layout (:mod:`lwflow.stages.layout`) and the job environment (:mod:`lwflow.stages.environment`)."""
