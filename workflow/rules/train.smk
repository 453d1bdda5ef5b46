# One model per (fit, problem, architecture, base modes, seed).


def training_data(wildcards):
    """fit likelihood: prior draws and their clipped weights; fit samples: exact target draws."""
    if wildcards.fit == "samples":
        return {"theta": f"results/target/{wildcards.problem}/seed{wildcards.seed}.npz"}
    return {
        "theta": f"results/prior/{wildcards.problem}/seed{wildcards.seed}.npz",
        "weights": f"results/weights/{wildcards.problem}/seed{wildcards.seed}.npz",
    }


def flow_settings(arch, modes):
    """The FlowSpec fields of one model: nsf stacks flow.nsf_layers spline layers, realnvp and maf
    flow.n_layers affine ones."""
    return {
        "arch": arch,
        "n_modes": modes if modes == "auto" else int(modes),
        "n_layers": config["flow"]["nsf_layers" if arch == "nsf" else "n_layers"],
        "hidden_units": config["flow"]["hidden_units"],
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
            "problem": problem_spec(w.problem),
            "flow": flow_settings(w.arch, w.modes),
            "mode_selection": config["mode_selection"],
            "training": training_settings((w.fit, w.problem, w.arch, w.modes)),
            "rbig": config["rbig"],
            "n_samples": config["evaluation"]["n_samples"],
        },
    script:
        "../scripts/train_flow.py"
