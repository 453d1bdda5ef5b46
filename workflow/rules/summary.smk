# Posterior summaries: what a scientist reads first, per model and per problem.


def summary_inputs(wildcards):
    inputs = {
        "samples": f"{model_dir(wildcards.fit, wildcards.problem, wildcards.arch, wildcards.modes, wildcards.seed)}/samples.npz",
        "modes": f"{model_dir(wildcards.fit, wildcards.problem, wildcards.arch, wildcards.modes, wildcards.seed)}/modes.json",
    }
    if wildcards.fit == "likelihood":
        inputs["report"] = f"results/weights/{wildcards.problem}/seed{wildcards.seed}_report.json"
    return inputs


rule posterior_summary:
    input:
        unpack(summary_inputs),
    output:
        json="results/summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.json",
        markdown="results/summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.md",
    log:
        "results/logs/posterior_summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/posterior_summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    params:
        config_slice=lambda w: {"problem": problem_spec(w.problem)},
    script:
        "../scripts/posterior_summary.py"


rule problem_summary:
    input:
        lambda w: summary_outputs(w.problem),
    output:
        csv=report(
            "results/summary/{problem}.csv",
            caption="../report/posterior_summary.rst",
            category="Posterior summaries",
            labels={"problem": "{problem}"},
        ),
        markdown="results/summary/{problem}.md",
    log:
        "results/logs/problem_summary/{problem}.log",
    benchmark:
        "results/benchmarks/problem_summary/{problem}.tsv"
    params:
        config_slice=lambda w: {},
    script:
        "../scripts/problem_summary.py"
