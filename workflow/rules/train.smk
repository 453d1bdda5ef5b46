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


# Their own jobs, so that evaluation.n_samples reruns no training: one job per seed samples and
# checks every model of a problem and fit trained for the same seeds, so that it pays torch's
# import once (PLAN.sampling_groups; lwflow.stages.runner.sample_models).
for (_fit, _problem, _seeds), _members in PLAN.sampling_groups().items():
    _group = group_name(_fit, _problem, _seeds)

    rule:
        name:
            f"sample_models_{_group}"
        input:
            unpack(sampling_group_inputs(_fit, _problem, _members)),
        output:
            # update: kept (restored) where the job fails, so one bad model costs no other model its draws
            samples=[update(f"{model_dir(_fit, _problem, a, k, '{seed}')}/samples.npz") for a, k in _members],
            summary=[update(summary_path(_fit, _problem, a, k, "{seed}")) for a, k in _members],
            summary_markdown=[update(summary_path(_fit, _problem, a, k, "{seed}", markdown=True)) for a, k in _members],
        log:
            f"results/logs/sample_models/{_group}/seed{{seed}}.log",
        benchmark:
            f"results/benchmarks/sample_models/{_group}/seed{{seed}}.tsv"
        wildcard_constraints:
            seed="|".join(map(str, _seeds)),
        conda:
            LWFLOW_ENV
        threads: 1
        resources:
            local_job_slots=1,
        params:
            fit=_fit,
            problem=_problem,
            members=_members,
            config_slice=PLAN.sampling_settings(_problem).recorded(),
        script:
            "../scripts/stage.py"
