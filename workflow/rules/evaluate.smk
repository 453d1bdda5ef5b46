# Exact reference samples, truth-vs-truth floors, metrics per trained model, AMF-VI mixtures.


rule truth_reference:
    input:
        problem_inputs,
    output:
        reference="results/truth/{problem}/seed{seed}.npz",
        floor="results/floors/{problem}/seed{seed}.json",
    log:
        "results/logs/truth_reference/{problem}/seed{seed}.log",
    benchmark:
        "results/benchmarks/truth_reference/{problem}/seed{seed}.tsv"
    params:
        config_slice=lambda w: {"problem": problem_spec(w.problem), "evaluation": config["evaluation"]},
    script:
        "../scripts/truth_reference.py"


def scoring_groups():
    """(fit, problem, seeds) -> the (arch, modes) of the models that one job scores per seed: every
    model of a problem and fit trained for the same seeds.  One process per group pays for its
    imports (torch, the flows, POT) and the exact posterior once, not once per model."""
    groups = {}
    for fit, problem, arch, modes in MODELS:
        if problem in TRUTH_PROBLEMS:
            seeds = tuple(MODEL_SEEDS[(fit, problem, arch, modes)])
            groups.setdefault((fit, problem, seeds), []).append((arch, modes))
    return groups


for (_fit, _problem, _seeds), _members in scoring_groups().items():
    _group = f"{_fit}_{_problem}_seeds{'_'.join(map(str, _seeds))}"

    rule:
        name:
            f"model_metrics_{_group}"
        input:
            models=[f"{model_dir(_fit, _problem, a, k, '{seed}')}/model.pt" for a, k in _members],
            samples=[f"{model_dir(_fit, _problem, a, k, '{seed}')}/samples.npz" for a, k in _members],
            reference=f"results/truth/{_problem}/seed{{seed}}.npz",
        output:
            metrics=[metrics_path(_fit, _problem, a, k, "{seed}") for a, k in _members],
            log_q=[log_q_path(_fit, _problem, a, k, "{seed}") for a, k in _members],
        log:
            f"results/logs/model_metrics/{_group}/seed{{seed}}.log",
        benchmark:
            f"results/benchmarks/model_metrics/{_group}/seed{{seed}}.tsv"
        wildcard_constraints:
            seed="|".join(map(str, _seeds)),
        threads: 1
        params:
            problem=_problem,
            config_slice={"problem": problem_spec(_problem), "evaluation": config["evaluation"]},
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
        config_slice=lambda w: {"problem": problem_spec(w.problem), "amfvi": config["amfvi"]},
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
        "log_q": {arch: log_q_path(*key) for arch, key in experts.items()},
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
        config_slice=lambda w: {"problem": problem_spec(w.problem), "evaluation": config["evaluation"]},
    script:
        "../scripts/mixture_metrics.py"
