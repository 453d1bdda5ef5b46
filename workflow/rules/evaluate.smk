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
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {
            "problem": PLAN.problem_spec(w.problem),
            "evaluation": asdict(PLAN.evaluation_settings()),
        },
    script:
        "../scripts/stage.py"


for (_fit, _problem, _seeds), _members in PLAN.scoring_groups().items():
    _group = group_name(_fit, _problem, _seeds)

    rule:
        name:
            f"model_metrics_{_group}"
        input:
            models=[f"{model_dir(_fit, _problem, a, k, '{seed}')}/model.pt" for a, k in _members],
            samples=[f"{model_dir(_fit, _problem, a, k, '{seed}')}/samples.npz" for a, k in _members],
            reference=f"results/truth/{_problem}/seed{{seed}}.npz",
        output:
            # update: kept (restored) where the job fails, so one bad model costs no other model its metrics
            metrics=[update(metrics_path(_fit, _problem, a, k, "{seed}")) for a, k in _members],
            log_q=[update(log_q_path(_fit, _problem, a, k, "{seed}")) for a, k in _members],
        log:
            f"results/logs/model_metrics/{_group}/seed{{seed}}.log",
        benchmark:
            f"results/benchmarks/model_metrics/{_group}/seed{{seed}}.tsv"
        wildcard_constraints:
            seed="|".join(map(str, _seeds)),
        conda:
            LWFLOW_ENV
        threads: 1
        resources:
            local_job_slots=1,
        params:
            problem=_problem,
            config_slice={"problem": PLAN.problem_spec(_problem), "evaluation": asdict(PLAN.evaluation_settings())},
        script:
            "../scripts/stage.py"


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
    conda:
        LWFLOW_ENV
    threads: 1
    resources:
        local_job_slots=1,
    params:
        experts=lambda w: {arch: f"{d}/model.pt" for arch, d in mixture_experts(w).items()},
        config_slice=lambda w: {"problem": PLAN.problem_spec(w.problem), "amfvi": asdict(PLAN.amfvi_settings())},
    script:
        "../scripts/stage.py"


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
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        paths=mixture_metric_inputs,
        config_slice=lambda w: {
            "problem": PLAN.problem_spec(w.problem),
            "evaluation": asdict(PLAN.evaluation_settings()),
        },
    script:
        "../scripts/stage.py"
