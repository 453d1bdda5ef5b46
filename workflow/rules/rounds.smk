# Adaptive rounds (experiments with proposal: adaptive; lwflow.fitting.rounds): per round,
# draws from the last flow -> likelihood in chunks -> pooled weights (a checkpoint that
# decides whether another round follows) -> the next flow.  The number of rounds is found
# while the workflow runs: after each weigh_round, Snakemake re-reads its report and adds the
# next round's jobs (checkpoints), up to the block's max_rounds.  Every round keeps its own
# artefacts, so a run killed mid-round resumes at that round.


rule propose_round:
    input:
        unpack(round_proposal),
        problem_code,
    output:
        "results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/draws.npz",
    log:
        "results/logs/propose_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.log",
    benchmark:
        "results/benchmarks/propose_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {
            "problem": PLAN.problem_spec(w.problem),
            "adaptive": {k: adaptive_of(w)[k] for k in ("n_per_round", "tempering_round_share", "defensive_share")},
        },
    script:
        "../scripts/stage.py"


rule evaluate_round_likelihood:
    input:
        verified(rules.propose_round.output[0]),
        problem_inputs,
    output:
        "results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/likelihood/chunk{chunk}.npz",
    log:
        "results/logs/evaluate_round_likelihood/{problem}/{arch}_K{modes}/seed{seed}/round{round}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/evaluate_round_likelihood/{problem}/{arch}_K{modes}/seed{seed}/round{round}/chunk{chunk}.tsv"
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


rule gather_round_likelihood:
    input:
        round_likelihood_chunks,
    output:
        "results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/likelihood.npz",
    log:
        "results/logs/gather_round_likelihood/{problem}/{arch}_K{modes}/seed{seed}/round{round}.log",
    benchmark:
        "results/benchmarks/gather_round_likelihood/{problem}/{arch}_K{modes}/seed{seed}/round{round}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {},
    script:
        "../scripts/stage.py"


checkpoint weigh_round:
    input:
        unpack(earlier_rounds),
        draws=rules.propose_round.output[0],
        likelihood=rules.gather_round_likelihood.output[0],
    output:
        pool="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/pool.npz",
        record="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/report.json",
    log:
        "results/logs/weigh_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.log",
    benchmark:
        "results/benchmarks/weigh_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: {"adaptive": adaptive_of(w)},
    script:
        "../scripts/stage.py"


rule train_round:
    input:
        unpack(round_warm_start),
        pool=rules.weigh_round.output.pool,
    output:
        model="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/model.pt",
        loss="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/loss.csv",
        modes="results/rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/modes.json",
    log:
        "results/logs/train_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.log",
    benchmark:
        "results/benchmarks/train_round/{problem}/{arch}_K{modes}/seed{seed}/round{round}.tsv"
    conda:
        LWFLOW_ENV
    threads: 1
    resources:
        local_job_slots=1,
    params:
        config_slice=lambda w: PLAN.proposal_model_settings(w.problem, w.arch, w.modes).recorded(),
    script:
        "../scripts/stage.py"
