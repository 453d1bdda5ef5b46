# Prior sampling -> likelihood evaluation -> weight clipping; or exact target draws (fit: samples).


rule sample_prior:
    input:
        problem_code,
    output:
        "results/prior/{problem}/seed{seed}.npz",
    log:
        "results/logs/sample_prior/{problem}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sample_prior/{problem}/seed{seed}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {"problem": PLAN.problem_spec(w.problem)},
    script:
        "../scripts/stage.py"


rule evaluate_likelihood:
    input:
        verified("results/prior/{problem}/seed{seed}.npz"),
        problem_inputs,
    output:
        "results/likelihood/{problem}/seed{seed}/chunk{chunk}.npz",
    log:
        "results/logs/evaluate_likelihood/{problem}/seed{seed}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/evaluate_likelihood/{problem}/seed{seed}/chunk{chunk}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {
            "problem": PLAN.problem_spec(w.problem),
            "likelihood_chunks": config["problems"][w.problem]["likelihood_chunks"],
        },
    script:
        "../scripts/stage.py"


rule gather_likelihood:
    input:
        likelihood_chunks,
    output:
        "results/likelihood/{problem}/seed{seed}.npz",
    log:
        "results/logs/gather_likelihood/{problem}/seed{seed}.log",
    benchmark:
        "results/benchmarks/gather_likelihood/{problem}/seed{seed}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {},
    script:
        "../scripts/stage.py"


rule clip_weights:
    input:
        "results/likelihood/{problem}/seed{seed}.npz",
    output:
        weights="results/weights/{problem}/seed{seed}.npz",
        report="results/weights/{problem}/seed{seed}_report.json",
    log:
        "results/logs/clip_weights/{problem}/seed{seed}.log",
    benchmark:
        "results/benchmarks/clip_weights/{problem}/seed{seed}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {"clipping": PLAN.clipping_settings()},
    script:
        "../scripts/stage.py"


rule sample_target:
    input:
        problem_inputs,
    output:
        "results/target/{problem}/seed{seed}.npz",
    log:
        "results/logs/sample_target/{problem}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sample_target/{problem}/seed{seed}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {"problem": PLAN.problem_spec(w.problem, target_draws=True)},
    script:
        "../scripts/stage.py"
