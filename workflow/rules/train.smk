# One model per (fit, problem, architecture, base modes, seed), then its samples and posterior summary.


rule train_flow:
    input:
        unpack(training_data),
    output:
        model="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/model.pt",
        loss="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/loss.csv",
        modes="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/modes.json",
    log:
        "results/logs/train_flow/{fit}/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_flow/{fit}/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    conda:
        LWFLOW_ENV
    threads: 1
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: PLAN.final_model_settings(w.fit, w.problem, w.arch, w.modes).recorded(),
    script:
        "../scripts/stage.py"


# Its own job, so that evaluation.n_samples reruns no training.
rule sample_model:
    input:
        unpack(sampling_inputs),
    output:
        samples="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
        summary="results/summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.json",
        summary_markdown="results/summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.md",
    log:
        "results/logs/sample_model/{fit}/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sample_model/{fit}/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    conda:
        LWFLOW_ENV
    threads: 1
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: PLAN.sampling_settings(w.problem).recorded(),
    script:
        "../scripts/stage.py"
