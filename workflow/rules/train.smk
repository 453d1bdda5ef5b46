# One flow per (problem, architecture, base modes, seed).


rule train_flow:
    input:
        prior="results/prior/{problem}/seed{seed}.npz",
        weights="results/weights/{problem}/seed{seed}.npz",
    output:
        model="results/models/{problem}/{arch}_K{modes}/seed{seed}/model.pt",
        loss="results/models/{problem}/{arch}_K{modes}/seed{seed}/loss.csv",
        samples="results/models/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
        modes="results/models/{problem}/{arch}_K{modes}/seed{seed}/modes.json",
    log:
        "results/logs/train_flow/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_flow/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    threads: 1
    params:
        config_slice=lambda w: {
            "flow": {"arch": w.arch, "n_modes": w.modes if w.modes == "auto" else int(w.modes), **config["flow"]},
            "mode_selection": config["mode_selection"],
            "training": config["training"],
            "n_samples": config["evaluation"]["n_samples"],
        },
    script:
        "../scripts/train_flow.py"
