# Paper A's tables and figures, and loss curves, from artefacts only.


def table_rows(wildcards):
    return [
        {
            "label": row.label,
            "published": row.published,
            "metrics": [metrics_path(row.problem, paper_a.ARCH, row.modes, s) for s in SEEDS],
            "floors": [f"results/floors/{row.problem}/seed{s}.json" for s in SEEDS],
        }
        for row in paper_a.TABLES[wildcards.table]
    ]


def table_inputs(wildcards):
    return [path for row in table_rows(wildcards) for path in row["metrics"] + row["floors"]]


rule paper_a_table:
    input:
        table_inputs,
    output:
        csv=report("results/tables/{table}.csv", caption="../report/paper_a_table.rst", category="Paper A tables"),
        markdown="results/tables/{table}.md",
    log:
        "results/logs/paper_a_table/{table}.log",
    params:
        rows=table_rows,
        metrics=paper_a.METRICS,
        config_slice=lambda w: {"seeds": SEEDS, "evaluation": config["evaluation"]},
    script:
        "../scripts/paper_a_table.py"


def figure_panels(wildcards):
    seed = config["outputs"]["figure_seed"]
    return [
        {
            "title": panel.title,
            "problem": panel.problem,
            "spec": config["problems"][panel.problem],
            "reference": f"results/truth/{panel.problem}/seed{seed}.npz",
            "samples": None
            if panel.modes is None
            else f"{model_dir(panel.problem, paper_a.ARCH, panel.modes, seed)}/samples.npz",
        }
        for panel in paper_a.FIGURES[wildcards.figure]
    ]


rule paper_a_figure:
    input:
        lambda w: [p[key] for p in figure_panels(w) for key in ("reference", "samples") if p[key]],
    output:
        png=report("results/figures/{figure}.png", caption="../report/paper_a_figure.rst", category="Paper A figures"),
        pdf="results/figures/{figure}.pdf",
    log:
        "results/logs/paper_a_figure/{figure}.log",
    params:
        panels=figure_panels,
        title=lambda w: paper_a.FIGURE_TITLES[w.figure],
        config_slice=lambda w: {"figure_seed": config["outputs"]["figure_seed"]},
    script:
        "../scripts/paper_a_figure.py"


def loss_histories(wildcards):
    return {
        f"{arch} K={modes}": [f"{model_dir(problem, arch, modes, s)}/loss.csv" for s in SEEDS]
        for problem, arch, modes in MODELS
        if problem == wildcards.problem
    }


rule loss_curves:
    input:
        lambda w: [p for paths in loss_histories(w).values() for p in paths],
    output:
        png=report("results/figures/loss_{problem}.png", caption="../report/loss_curves.rst", category="Training"),
        pdf="results/figures/loss_{problem}.pdf",
    log:
        "results/logs/loss_curves/{problem}.log",
    params:
        histories=loss_histories,
        config_slice=lambda w: {"training": config["training"]},
    script:
        "../scripts/loss_curves.py"


def diagnostics_background(wildcards):
    if wildcards.problem in TRUTH_PROBLEMS:
        return {"reference": f"results/truth/{wildcards.problem}/seed{wildcards.seed}.npz"}
    return {
        "prior": f"results/prior/{wildcards.problem}/seed{wildcards.seed}.npz",
        "weights": f"results/weights/{wildcards.problem}/seed{wildcards.seed}.npz",
    }


rule model_diagnostics:
    input:
        unpack(diagnostics_background),
        samples="results/models/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
    output:
        report(
            "results/figures/models/{problem}/{arch}_K{modes}/seed{seed}.png",
            caption="../report/model_diagnostics.rst",
            category="Model diagnostics",
            subcategory="{problem}",
        ),
    log:
        "results/logs/model_diagnostics/{problem}/{arch}_K{modes}/seed{seed}.log",
    params:
        label=lambda w: f"{w.problem}, {w.arch} with {w.modes} base modes, seed {w.seed}",
        config_slice=lambda w: {},
    script:
        "../scripts/model_diagnostics.py"
