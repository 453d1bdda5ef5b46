# Adaptive rounds (experiments with proposal: adaptive; lwflow.fitting.rounds): per round,
# draws from the last flow -> likelihood in chunks -> pooled weights (a checkpoint that
# decides whether another round follows) -> the next flow.  The number of rounds is found
# while the workflow runs: after each weigh_round, Snakemake re-reads its report and adds the
# next round's jobs (checkpoints), up to the block's max_rounds.  Every round keeps its own
# artefacts, so a run killed mid-round resumes at that round.


def round_path(name, wildcards, round_index, **chunk):
    """Artefact ``name`` of round ``round_index`` of the adaptive model in ``wildcards``."""
    model = (wildcards.problem, wildcards.arch, wildcards.modes, wildcards.seed)
    return PLAN.round_path(name, *model, round_index, **chunk)


def round_proposal(wildcards):
    """Round r > 0 draws from round r-1's flow."""
    r = int(wildcards.round)
    return {"proposal": round_path("round_model", wildcards, r - 1)} if r > 0 else {}


def round_likelihood_chunks(wildcards):
    n = config["problems"][wildcards.problem]["likelihood_chunks"]
    return [round_path("round_likelihood_chunk", wildcards, wildcards.round, chunk=i) for i in range(n)]


def earlier_rounds(wildcards):
    """Round r-1's pool and report, and the flows of rounds 0..r-1 (behind rounds 1..r's proposals)."""
    r = int(wildcards.round)
    if r == 0:
        return {}
    return {
        "pool": round_path("round_pool", wildcards, r - 1),
        "report": round_path("round_report", wildcards, r - 1),
        "proposals": [round_path("round_model", wildcards, s) for s in range(r)],
    }


def adaptive_of(wildcards):
    return PLAN.adaptive_settings(wildcards.problem, wildcards.arch, wildcards.modes)


rule propose_round:
    input:
        unpack(round_proposal),
        problem_inputs,
    output:
        "results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/draws.npz",
    log:
        "results/logs/propose_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.log",
    benchmark:
        "results/benchmarks/propose_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.tsv"
    params:
        config_slice=lambda w: {
            "problem": PLAN.problem_spec(w.problem),
            "adaptive": {k: adaptive_of(w)[k] for k in ("n_per_round", "defensive_share")},
        },
    script:
        "../scripts/propose_round.py"


rule evaluate_round_likelihood:
    input:
        "results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/draws.npz",
        problem_inputs,
    output:
        "results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/likelihood/chunk{chunk}.npz",
    log:
        "results/logs/evaluate_round_likelihood/{problem}/{arch}_K{modes}/seed{seed}/round{round}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/evaluate_round_likelihood/{problem}/{arch}_K{modes}/seed{seed}/round{round}/chunk{chunk}.tsv"
    params:
        config_slice=lambda w: {
            "problem": PLAN.problem_spec(w.problem),
            "likelihood_chunks": config["problems"][w.problem]["likelihood_chunks"],
        },
    script:
        "../scripts/evaluate_likelihood.py"


rule gather_round_likelihood:
    input:
        round_likelihood_chunks,
    output:
        "results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/likelihood.npz",
    log:
        "results/logs/gather_round_likelihood/{problem}/{arch}_K{modes}/seed{seed}/round{round}.log",
    benchmark:
        "results/benchmarks/gather_round_likelihood/{problem}/{arch}_K{modes}/seed{seed}/round{round}.tsv"
    params:
        config_slice=lambda w: {},
    script:
        "../scripts/gather_likelihood.py"


checkpoint weigh_round:
    input:
        unpack(earlier_rounds),
        draws="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/draws.npz",
        likelihood="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/likelihood.npz",
    output:
        pool="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/pool.npz",
        record="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/report.json",
    log:
        "results/logs/weigh_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.log",
    benchmark:
        "results/benchmarks/weigh_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.tsv"
    params:
        config_slice=lambda w: {"adaptive": adaptive_of(w)},
    script:
        "../scripts/weigh_round.py"


rule train_round:
    input:
        pool="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/pool.npz",
    output:
        model="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/model.pt",
        loss="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/loss.csv",
        modes="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/modes.json",
    log:
        "results/logs/train_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.log",
    benchmark:
        "results/benchmarks/train_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.tsv"
    threads: 1
    params:
        config_slice=lambda w: {
            "problem": PLAN.problem_spec(w.problem),
            "flow": PLAN.flow_settings(w.arch, w.modes),
            "mode_selection": config["mode_selection"],
            "training": PLAN.training_settings(("adaptive", w.problem, w.arch, w.modes)),
            "rbig": config["rbig"],
        },
    script:
        "../scripts/train_round.py"


def last_round(wildcards):
    """The pool and report of the round that ended one adaptive model's rounds: walks the
    rounds' reports, each a checkpoint, until one says no round follows."""
    r = 0
    while True:
        keys = {key: wildcards[key] for key in ("problem", "arch", "modes", "seed")}
        record = checkpoints.weigh_round.get(round=r, **keys).output.record
        with open(record) as stream:
            if json.load(stream)["next"] != "train":
                pool = round_path("round_pool", wildcards, r)
                return {"theta": pool, "weights": pool, "report": record}
        r += 1
