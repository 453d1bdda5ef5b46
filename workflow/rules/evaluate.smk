# Exact reference samples, truth-vs-truth floors, and metrics per trained model.


rule truth_reference:
    output:
        reference="results/truth/{problem}/seed{seed}.npz",
        floor="results/floors/{problem}/seed{seed}.json",
    log:
        "results/logs/truth_reference/{problem}/seed{seed}.log",
    params:
        config_slice=lambda w: {"problem": problem_spec(w), "evaluation": config["evaluation"]},
    script:
        "../scripts/truth_reference.py"


rule model_metrics:
    input:
        model="results/models/{problem}/{arch}_K{modes}/seed{seed}/model.pt",
        samples="results/models/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
        reference="results/truth/{problem}/seed{seed}.npz",
    output:
        "results/metrics/{problem}/{arch}_K{modes}/seed{seed}.json",
    log:
        "results/logs/model_metrics/{problem}/{arch}_K{modes}/seed{seed}.log",
    threads: 1
    params:
        config_slice=lambda w: {"problem": problem_spec(w), "evaluation": config["evaluation"]},
    script:
        "../scripts/model_metrics.py"
