"""The workflow's side of the library (no Snakemake in it): the stages, one module per rule file
(:mod:`~lwflow.stages.data`, :mod:`~lwflow.stages.rounds`, :mod:`~lwflow.stages.train`,
:mod:`~lwflow.stages.evaluate`, :mod:`~lwflow.stages.summary`, :mod:`~lwflow.stages.report`) with
what every job shares (:mod:`~lwflow.stages.jobs`), the typed settings the stages take
(:mod:`~lwflow.stages.settings`), the experiment plan (:mod:`lwflow.stages.plan`),
the results layout (:mod:`lwflow.stages.layout`) and the job environment
(:mod:`lwflow.stages.environment`)."""
