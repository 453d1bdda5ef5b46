# One model per (fit, problem, architecture, base modes, seed).


rule train_flow:
    input:
        unpack(training_data),
    output:
        model="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/model.pt",
        loss="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/loss.csv",
        samples="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
        modes="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/modes.json",
        summary="results/summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.json",
        summary_markdown="results/summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.md",
    log:
        "results/logs/train_flow/{fit}/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_flow/{fit}/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    conda:
        LWFLOW_ENV
    threads: 1
    params:
        config_slice=lambda w: PLAN.model_settings(w.fit, w.problem, w.arch, w.modes)
        | {"n_samples": config["evaluation"]["n_samples"]},
    script:
        "../scripts/train_flow.py"
