# One model per (fit, problem, architecture, base modes, seed).


def training_data(wildcards):
    """fit likelihood: prior draws and their clipped weights; fit samples: exact target draws."""
    if wildcards.fit == "samples":
        return {"theta": f"results/target/{wildcards.problem}/seed{wildcards.seed}.npz"}
    return {
        "theta": f"results/prior/{wildcards.problem}/seed{wildcards.seed}.npz",
        "weights": f"results/weights/{wildcards.problem}/seed{wildcards.seed}.npz",
    }


rule train_flow:
    input:
        unpack(training_data),
    output:
        model="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/model.pt",
        loss="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/loss.csv",
        samples="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
        modes="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/modes.json",
    log:
        "results/logs/train_flow/{fit}/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_flow/{fit}/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    threads: 1
    params:
        config_slice=lambda w: {
            "flow": {"arch": w.arch, "n_modes": w.modes if w.modes == "auto" else int(w.modes), **config["flow"]},
            "mode_selection": config["mode_selection"],
            "training": training_settings((w.fit, w.problem, w.arch, w.modes)),
            "rbig": config["rbig"],
            "n_samples": config["evaluation"]["n_samples"],
        },
    script:
        "../scripts/train_flow.py"
