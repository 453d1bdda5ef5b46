"""Every rule's script: the stage its rule names (lwflow.stages.runner)."""

from lwflow.stages.runner import run

run(snakemake)
