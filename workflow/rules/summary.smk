# Posterior summaries of every model of a problem in one table (each model's own is written by
# its training job: results/summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.json).


rule problem_summary:
    input:
        lambda w: PLAN.summary_outputs(w.problem),
    output:
        csv="results/summary/{problem}.csv",
        markdown="results/summary/{problem}.md",
        html=report(
            "results/summary/{problem}.html",
            caption="../report/posterior_summary.rst",
            category="Posterior summaries",
            labels={"problem": "{problem}"},
        ),
    log:
        "results/logs/problem_summary/{problem}.log",
    benchmark:
        "results/benchmarks/problem_summary/{problem}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {},
    script:
        "../scripts/stage.py"
