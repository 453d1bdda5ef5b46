# Paper A's and paper B's tables and figures, and loss curves, from artefacts only.


rule paper_a_table:
    input:
        lambda w: rows_inputs(PLAN.paper_a_table_rows(w.table)),
    output:
        csv="results/tables/{table}.csv",
        markdown="results/tables/{table}.md",
        html=report(
            "results/tables/{table}.html",
            caption="../report/paper_a_table.rst",
            category="Paper A tables",
            labels={"name": "{table}", "kind": "table"},
        ),
        seeds=report(
            "results/figures/{table}_seeds.png",
            caption="../report/seeds_figure.rst",
            category="Paper A tables",
            labels={"name": "{table}", "kind": "every seed"},
        ),
    log:
        "results/logs/paper_a_table/{table}.log",
    benchmark:
        "results/benchmarks/paper_a_table/{table}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        rows=lambda w: PLAN.paper_a_table_rows(w.table),
        metrics=paper_a.METRICS,
        config_slice=lambda w: {"seeds": SEEDS, "evaluation": asdict(PLAN.evaluation_settings())},
    script:
        "../scripts/stage.py"


rule paper_a_figure:
    input:
        lambda w: [p[key] for p in PLAN.paper_a_figure_panels(w.figure) for key in ("reference", "samples") if p[key]],
    output:
        png=report(
            "results/figures/{figure}.png",
            caption="../report/paper_a_figure.rst",
            category="Paper A figures",
            labels={"name": "{figure}", "kind": "figure"},
        ),
        pdf="results/figures/{figure}.pdf",
    log:
        "results/logs/paper_a_figure/{figure}.log",
    benchmark:
        "results/benchmarks/paper_a_figure/{figure}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        panels=lambda w: PLAN.paper_a_figure_panels(w.figure),
        title=lambda w: paper_a.FIGURE_TITLES[w.figure],
        config_slice=lambda w: {"figure_seed": config["outputs"]["figure_seed"]},
    script:
        "../scripts/stage.py"


rule loss_curves:
    input:
        lambda w: [p for paths in PLAN.loss_histories(w.problem).values() for p in paths.values()],
    output:
        png=report(
            "results/figures/loss_{problem}.png",
            caption="../report/loss_curves.rst",
            category="Training",
            labels={"problem": "{problem}", "figure": "loss curves"},
        ),
        pdf="results/figures/loss_{problem}.pdf",
    log:
        "results/logs/loss_curves/{problem}.log",
    benchmark:
        "results/benchmarks/loss_curves/{problem}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        histories=lambda w: PLAN.loss_histories(w.problem),
        config_slice=lambda w: {"training": PLAN.training_settings()},
    script:
        "../scripts/stage.py"


rule model_diagnostics:
    input:
        unpack(diagnostics_background),
        samples="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
        modes=rules.train_flow.output.modes,
    output:
        report(
            "results/figures/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}.png",
            caption="../report/model_diagnostics.rst",
            category="Model diagnostics",
            subcategory="{problem}",
            labels={"model": "{fit} {arch} K={modes}", "seed": "{seed}"},
        ),
    log:
        "results/logs/model_diagnostics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/model_diagnostics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        label=lambda w: f"{w.problem}, {w.arch}_K{w.modes}, fit on {w.fit}, seed {w.seed}",
        config_slice=lambda w: {"problem": PLAN.problem_spec(w.problem)},
    script:
        "../scripts/stage.py"


rule paper_b_table:
    input:
        rows_inputs(PLAN.paper_b_rows()),
    output:
        csv="results/tables/paper_b_table2.csv",
        markdown="results/tables/paper_b_table2.md",
        html=report(
            "results/tables/paper_b_table2.html",
            caption="../report/paper_b_table.rst",
            category="Paper B",
            labels={"name": "Table 2", "kind": "table"},
        ),
        seeds=report(
            "results/figures/paper_b_table2_seeds.png",
            caption="../report/seeds_figure.rst",
            category="Paper B",
            labels={"name": "Table 2", "kind": "every seed"},
        ),
    log:
        "results/logs/paper_b_table/paper_b_table2.log",
    benchmark:
        "results/benchmarks/paper_b_table/paper_b_table2.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        rows=lambda w: PLAN.paper_b_rows(),
        metrics=paper_b.METRICS + paper_b.EXTRA_METRICS,
        config_slice=lambda w: {
            "seeds": SEEDS,
            "evaluation": asdict(PLAN.evaluation_settings()),
            "amfvi": asdict(PLAN.amfvi_settings()),
        },
    script:
        "../scripts/stage.py"


rule amfvi_likelihood_table:
    input:
        rows_inputs(PLAN.amfvi_likelihood_rows()),
    output:
        csv="results/tables/amfvi_likelihood.csv",
        markdown="results/tables/amfvi_likelihood.md",
        html=report(
            "results/tables/amfvi_likelihood.html",
            caption="../report/amfvi_likelihood.rst",
            category="Paper B",
            labels={"name": "AMF-VI on likelihood-weighted experts", "kind": "table"},
        ),
        seeds=report(
            "results/figures/amfvi_likelihood_seeds.png",
            caption="../report/seeds_figure.rst",
            category="Paper B",
            labels={"name": "AMF-VI on likelihood-weighted experts", "kind": "every seed"},
        ),
    log:
        "results/logs/paper_b_table/amfvi_likelihood.log",
    benchmark:
        "results/benchmarks/amfvi_likelihood_table/amfvi_likelihood.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        rows=lambda w: PLAN.amfvi_likelihood_rows(),
        metrics=paper_b.METRICS + paper_b.EXTRA_METRICS,
        config_slice=lambda w: {
            "seeds": PLAN.likelihood_mixture_seeds(),
            "evaluation": asdict(PLAN.evaluation_settings()),
            "amfvi": asdict(PLAN.amfvi_settings()),
        },
    script:
        "../scripts/stage.py"


rule paper_b_fig1:
    input:
        lambda w: [p for paths in PLAN.paper_b_weight_paths().values() for p in paths],
    output:
        png=report(
            "results/figures/paper_b_fig1.png",
            caption="../report/paper_b_figure.rst",
            category="Paper B",
            labels={"name": "Figure 1", "kind": "figure"},
        ),
        pdf="results/figures/paper_b_fig1.pdf",
    log:
        "results/logs/paper_b_figure/paper_b_fig1.log",
    benchmark:
        "results/benchmarks/paper_b_fig1/paper_b_fig1.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        weights=lambda w: PLAN.paper_b_weight_paths(),
        config_slice=lambda w: {"seeds": SEEDS},
    script:
        "../scripts/stage.py"


rule paper_b_fig2:
    input:
        lambda w: [
            p
            for row in PLAN.paper_b_sample_rows()
            for p in [row["reference"]] + [m if isinstance(m, str) else m[0] for m in row["models"].values()]
        ],
    output:
        png=report(
            "results/figures/paper_b_fig2.png",
            caption="../report/paper_b_figure.rst",
            category="Paper B",
            labels={"name": "Figure 2", "kind": "figure"},
        ),
        pdf="results/figures/paper_b_fig2.pdf",
    log:
        "results/logs/paper_b_figure/paper_b_fig2.log",
    benchmark:
        "results/benchmarks/paper_b_fig2/paper_b_fig2.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        rows=lambda w: PLAN.paper_b_sample_rows(),
        config_slice=lambda w: {"figure_seed": config["outputs"]["figure_seed"]},
    script:
        "../scripts/stage.py"


rule auto_modes_table:
    input:
        rows_inputs(PLAN.auto_modes_rows()),
    output:
        csv="results/tables/auto_modes.csv",
        markdown="results/tables/auto_modes.md",
        html=report(
            "results/tables/auto_modes.html",
            caption="../report/auto_modes.rst",
            category="Base modes",
            labels={"name": "base modes auto", "kind": "table"},
        ),
        seeds=report(
            "results/figures/auto_modes_seeds.png",
            caption="../report/seeds_figure.rst",
            category="Base modes",
            labels={"name": "base modes auto", "kind": "every seed"},
        ),
    log:
        "results/logs/auto_modes_table/auto_modes.log",
    benchmark:
        "results/benchmarks/auto_modes_table/auto_modes.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        rows=lambda w: PLAN.auto_modes_rows(),
        metrics=("nll",) + paper_a.METRICS + ("hole_mass",),
        config_slice=lambda w: {
            "seeds": SEEDS,
            "evaluation": asdict(PLAN.evaluation_settings()),
            "mode_selection": config["mode_selection"],
        },
    script:
        "../scripts/stage.py"


# The results pages: each a template of workflow/report/pages filled from the tables
# (lwflow.evaluation.pages), so that no number on them is typed by hand.
RESULTS_PAGES = PLAN.results_pages()
# relative to the working directory, as every other path of a sidecar (source_path would name Snakemake's cache)
PAGE_TEMPLATES = os.path.relpath(os.path.join(workflow.basedir, "workflow", "report", "pages"))


rule results_page:
    input:
        template=lambda w: f"{PAGE_TEMPLATES}/{w.page}.md",
        tables=lambda w: [f"results/tables/{name}.csv" for name in RESULTS_PAGES[w.page]],
        markdown=lambda w: [f"results/tables/{name}.md" for name in RESULTS_PAGES[w.page]],
    output:
        f"{config['outputs']['results_pages'] or 'results/pages'}/{{page}}.md",
    log:
        "results/logs/results_page/{page}.log",
    benchmark:
        "results/benchmarks/results_page/{page}.tsv"
    conda:
        LWFLOW_ENV
    resources:
        local_job_slots=1,
    params:
        tables=lambda w: RESULTS_PAGES[w.page],
        config_slice=lambda w: {"results_pages": config["outputs"]["results_pages"]},
    script:
        "../scripts/stage.py"
