# lwflow: likelihood-weighted normalizing flows and AMF-VI mixtures, reproducing papers A and B end to end.
# Run: snakemake --cores 8   (config.yaml; see README)


# config.yaml is the default run; a config given with --configfile stands alone (it is not
# merged into config.yaml: what it leaves out takes the schema's defaults), --config on top.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


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
