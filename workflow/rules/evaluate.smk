# Exact reference samples, truth-vs-truth floors, metrics per trained model, AMF-VI mixtures.


rule truth_reference:
    output:
        reference="results/truth/{problem}/seed{seed}.npz",
        floor="results/floors/{problem}/seed{seed}.json",
    log:
        "results/logs/truth_reference/{problem}/seed{seed}.log",
    benchmark:
        "results/benchmarks/truth_reference/{problem}/seed{seed}.tsv"
    params:
        config_slice=lambda w: {"problem": problem_spec(w), "evaluation": config["evaluation"]},
    script:
        "../scripts/truth_reference.py"


rule model_metrics:
    input:
        model="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/model.pt",
        samples="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
        reference="results/truth/{problem}/seed{seed}.npz",
    output:
        metrics="results/metrics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.json",
        log_q="results/metrics/{fit}/{problem}/{arch}_K{modes}/seed{seed}_log_q.npz",
    log:
        "results/logs/model_metrics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/model_metrics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    threads: 1
    params:
        config_slice=lambda w: {"problem": problem_spec(w), "evaluation": config["evaluation"]},
    script:
        "../scripts/model_metrics.py"


def mixture_experts(wildcards):
    """arch -> the expert of one mixture (rbig always with one base mode)."""
    archs = MIXTURES[(wildcards.fit, wildcards.problem, wildcards.modes)]
    return {
        arch: model_dir(wildcards.fit, wildcards.problem, arch, expert_modes(arch, wildcards.modes), wildcards.seed)
        for arch in archs
    }


rule amfvi_weights:
    input:
        lambda w: [f"{d}/model.pt" for d in mixture_experts(w).values()],
    output:
        weights="results/mixtures/{fit}/{problem}/K{modes}/seed{seed}/weights.json",
        trajectory="results/mixtures/{fit}/{problem}/K{modes}/seed{seed}/trajectory.csv",
    log:
        "results/logs/amfvi_weights/{fit}/{problem}/K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/amfvi_weights/{fit}/{problem}/K{modes}/seed{seed}.tsv"
    threads: 1
    params:
        experts=lambda w: {arch: f"{d}/model.pt" for arch, d in mixture_experts(w).items()},
        config_slice=lambda w: {"problem": problem_spec(w), "amfvi": config["amfvi"]},
    script:
        "../scripts/amfvi_weights.py"


def mixture_metric_inputs(wildcards):
    experts = {
        arch: (
            wildcards.fit,
            wildcards.problem,
            arch,
            expert_modes(arch, wildcards.modes),
            wildcards.seed,
        )
        for arch in MIXTURES[(wildcards.fit, wildcards.problem, wildcards.modes)]
    }
    return {
        "log_q": {arch: metrics_path(*key).replace(".json", "_log_q.npz") for arch, key in experts.items()},
        "samples": {arch: f"{model_dir(*key)}/samples.npz" for arch, key in experts.items()},
    }


rule mixture_metrics:
    input:
        lambda w: [p for group in mixture_metric_inputs(w).values() for p in group.values()],
        weights="results/mixtures/{fit}/{problem}/K{modes}/seed{seed}/weights.json",
        reference="results/truth/{problem}/seed{seed}.npz",
    output:
        metrics="results/mixtures/{fit}/{problem}/K{modes}/seed{seed}/metrics.json",
        samples="results/mixtures/{fit}/{problem}/K{modes}/seed{seed}/samples.npz",
    log:
        "results/logs/mixture_metrics/{fit}/{problem}/K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/mixture_metrics/{fit}/{problem}/K{modes}/seed{seed}.tsv"
    params:
        paths=mixture_metric_inputs,
        config_slice=lambda w: {"problem": problem_spec(w), "evaluation": config["evaluation"]},
    script:
        "../scripts/mixture_metrics.py"
