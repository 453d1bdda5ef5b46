# Paper A's and paper B's tables and figures, and loss curves, from artefacts only.


def table_rows(wildcards):
    return [
        {
            "label": row.label,
            "published": row.published,
            "metrics": [metrics_path("likelihood", row.problem, paper_a.ARCH, row.modes, s) for s in SEEDS],
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
    benchmark:
        "results/benchmarks/paper_a_table/{table}.tsv"
    params:
        rows=table_rows,
        metrics=paper_a.METRICS,
        config_slice=lambda w: {"seeds": SEEDS, "evaluation": config["evaluation"]},
    script:
        "../scripts/summary_table.py"


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
            else f"{model_dir('likelihood', panel.problem, paper_a.ARCH, panel.modes, seed)}/samples.npz",
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
    benchmark:
        "results/benchmarks/paper_a_figure/{figure}.tsv"
    params:
        panels=figure_panels,
        title=lambda w: paper_a.FIGURE_TITLES[w.figure],
        config_slice=lambda w: {"figure_seed": config["outputs"]["figure_seed"]},
    script:
        "../scripts/paper_a_figure.py"


def loss_histories(wildcards):
    return {
        f"{arch} K={modes} ({fit})": [
            f"{model_dir(fit, problem, arch, modes, s)}/loss.csv" for s in MODEL_SEEDS[fit, problem, arch, modes]
        ]
        for fit, problem, arch, modes in MODELS
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
    benchmark:
        "results/benchmarks/loss_curves/{problem}.tsv"
    params:
        histories=loss_histories,
        config_slice=lambda w: {"training": training_settings()},
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
        samples="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
        modes="results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/modes.json",
    output:
        report(
            "results/figures/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}.png",
            caption="../report/model_diagnostics.rst",
            category="Model diagnostics",
            subcategory="{problem}",
        ),
    log:
        "results/logs/model_diagnostics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.log",
    benchmark:
        "results/benchmarks/model_diagnostics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.tsv"
    params:
        label=lambda w: f"{w.problem}, {w.arch}_K{w.modes}, fit on {w.fit}, seed {w.seed}",
        config_slice=lambda w: {"problem": problem_spec(w.problem)},
    script:
        "../scripts/model_diagnostics.py"


def mixture_table_rows(fit, problems, modes_of, published):
    """Rows ``problem/method``: the AMF-VI and EM mixtures, then each expert."""
    rows = []
    for problem in problems:
        modes = modes_of(problem)
        prefix = problem if fit == "samples" else f"{problem}/K{modes}"
        seeds = MIXTURE_SEEDS[(fit, problem, modes)]
        floors = [f"results/floors/{problem}/seed{s}.json" for s in seeds]
        for label, key in paper_b.MIXTURES.items():
            rows.append(
                {
                    "label": f"{prefix}/{label}",
                    "published": published(problem, label),
                    "metrics": [f"{mixture_dir(fit, problem, modes, s)}/metrics.json" for s in seeds],
                    "key": key,
                    "floors": floors,
                }
            )
        for arch in MIXTURES[(fit, problem, modes)]:
            k = expert_modes(arch, modes)
            rows.append(
                {
                    "label": f"{prefix}/{arch}",
                    "published": published(problem, arch),
                    "metrics": [metrics_path(fit, problem, arch, k, s) for s in seeds],
                    "floors": floors,
                }
            )
    return rows


def paper_b_rows(wildcards=None):
    return mixture_table_rows("samples", paper_b.PROBLEMS, lambda problem: "1", paper_b.published)


def likelihood_mixtures():
    """(problem, modes) of every likelihood-weighted mixture with an exact posterior."""
    return [(p, k) for fit, p, k in MIXTURES if fit == "likelihood" and p in TRUTH_PROBLEMS]


def likelihood_mixture_seeds():
    return sorted({s for p, k in likelihood_mixtures() for s in MIXTURE_SEEDS[("likelihood", p, k)]})


def amfvi_likelihood_rows(wildcards=None):
    return [
        row
        for problem, modes in likelihood_mixtures()
        for row in mixture_table_rows("likelihood", [problem], lambda _, k=modes: k, lambda *_: {})
    ]


def rows_inputs(rows):
    return [path for row in rows for path in row["metrics"] + row["floors"]]


rule paper_b_table:
    input:
        rows_inputs(paper_b_rows()) if config["outputs"]["paper_b"] else [],
    output:
        csv=report("results/tables/paper_b_table2.csv", caption="../report/paper_b_table.rst", category="Paper B"),
        markdown="results/tables/paper_b_table2.md",
    log:
        "results/logs/paper_b_table/paper_b_table2.log",
    benchmark:
        "results/benchmarks/paper_b_table/paper_b_table2.tsv"
    params:
        rows=paper_b_rows,
        metrics=paper_b.METRICS + paper_b.EXTRA_METRICS,
        config_slice=lambda w: {"seeds": SEEDS, "evaluation": config["evaluation"], "amfvi": config["amfvi"]},
    script:
        "../scripts/summary_table.py"


rule amfvi_likelihood_table:
    input:
        rows_inputs(amfvi_likelihood_rows()),
    output:
        csv=report(
            "results/tables/amfvi_likelihood.csv", caption="../report/amfvi_likelihood.rst", category="Paper B"
        ),
        markdown="results/tables/amfvi_likelihood.md",
    log:
        "results/logs/paper_b_table/amfvi_likelihood.log",
    benchmark:
        "results/benchmarks/amfvi_likelihood_table/amfvi_likelihood.tsv"
    params:
        rows=amfvi_likelihood_rows,
        metrics=paper_b.METRICS + paper_b.EXTRA_METRICS,
        config_slice=lambda w: {"seeds": likelihood_mixture_seeds(), "evaluation": config["evaluation"], "amfvi": config["amfvi"]},
    script:
        "../scripts/summary_table.py"


def paper_b_weight_paths(wildcards=None):
    return {
        problem: [f"{mixture_dir('samples', problem, '1', s)}/weights.json" for s in SEEDS]
        for problem in paper_b.PROBLEMS
    }


rule paper_b_fig1:
    input:
        lambda w: [p for paths in paper_b_weight_paths().values() for p in paths],
    output:
        png=report("results/figures/paper_b_fig1.png", caption="../report/paper_b_figure.rst", category="Paper B"),
        pdf="results/figures/paper_b_fig1.pdf",
    log:
        "results/logs/paper_b_figure/paper_b_fig1.log",
    benchmark:
        "results/benchmarks/paper_b_fig1/paper_b_fig1.tsv"
    params:
        weights=paper_b_weight_paths,
        config_slice=lambda w: {"seeds": SEEDS},
    script:
        "../scripts/paper_b_fig1.py"


def paper_b_sample_rows(wildcards=None):
    seed = config["outputs"]["figure_seed"]
    return [
        {
            "title": paper_b.TITLES[problem],
            "reference": f"results/truth/{problem}/seed{seed}.npz",
            "models": {
                **{arch: f"{model_dir('samples', problem, arch, '1', seed)}/samples.npz" for arch in paper_b.EXPERTS},
                "AMF-VI": (f"{mixture_dir('samples', problem, '1', seed)}/samples.npz", "ema"),
            },
        }
        for problem in paper_b.PROBLEMS
    ]


rule paper_b_fig2:
    input:
        lambda w: [
            p
            for row in paper_b_sample_rows()
            for p in [row["reference"]] + [m if isinstance(m, str) else m[0] for m in row["models"].values()]
        ],
    output:
        png=report("results/figures/paper_b_fig2.png", caption="../report/paper_b_figure.rst", category="Paper B"),
        pdf="results/figures/paper_b_fig2.pdf",
    log:
        "results/logs/paper_b_figure/paper_b_fig2.log",
    benchmark:
        "results/benchmarks/paper_b_fig2/paper_b_fig2.tsv"
    params:
        rows=paper_b_sample_rows,
        config_slice=lambda w: {"figure_seed": config["outputs"]["figure_seed"]},
    script:
        "../scripts/paper_b_fig2.py"


def auto_modes_rows(wildcards=None):
    """Per built-in problem: base modes auto (with the K chosen per seed), 1 and the true count."""
    rows = []
    for problem in AUTO_MODES_PROBLEMS:
        floors = [f"results/floors/{problem}/seed{s}.json" for s in SEEDS]
        n_modes, n_maxima = mode_counts(problem)
        for modes in auto_modes_compared(problem):
            note = " (true)" if modes == str(n_modes) else " (density maxima)" if modes == str(n_maxima) else ""
            row = {
                "label": f"{problem}/K={modes}{note}",
                "published": {},
                "metrics": [metrics_path("likelihood", problem, paper_a.ARCH, modes, s) for s in SEEDS],
                "floors": floors,
                "true_modes": n_modes,
                "density_maxima": n_maxima,
            }
            if modes == "auto":
                row["modes"] = [f"{model_dir('likelihood', problem, paper_a.ARCH, modes, s)}/modes.json" for s in SEEDS]
            rows.append(row)
    return rows


rule auto_modes_table:
    input:
        [p for row in auto_modes_rows() for p in row["metrics"] + row["floors"] + row.get("modes", [])],
    output:
        csv=report("results/tables/auto_modes.csv", caption="../report/auto_modes.rst", category="Base modes"),
        markdown="results/tables/auto_modes.md",
    log:
        "results/logs/auto_modes_table/auto_modes.log",
    benchmark:
        "results/benchmarks/auto_modes_table/auto_modes.tsv"
    params:
        rows=auto_modes_rows,
        metrics=("nll",) + paper_a.METRICS + ("hole_mass",),
        config_slice=lambda w: {"seeds": SEEDS, "evaluation": config["evaluation"], "mode_selection": config["mode_selection"]},
    script:
        "../scripts/summary_table.py"
