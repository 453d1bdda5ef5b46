# lwflow: likelihood-weighted normalizing flows and AMF-VI mixtures, reproducing papers A and B end to end.
# Run: snakemake --cores 8   (config.yaml; see README)


# config.yaml is the default run; a config given with --configfile stands alone (it is not
# merged into config.yaml: what it leaves out takes the schema's defaults), --config on top.
# (A YAML error in a --configfile is reported by Snakemake itself, before this file is read,
# without its position: `lwflow check-config my.yaml` names the line and column.)  Every config
# file is checked against the schema before anything runs, here and in common.smk, each mistake
# on its own line with its line number (lwflow.stages.config_file).
if not workflow.overwrite_configfiles:
    from lwflow.stages.config_file import check_config_file

    check_config_file("config.yaml")

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/rounds.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        PLAN.outputs(),
