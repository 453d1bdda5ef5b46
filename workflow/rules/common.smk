# Config validation, the experiment grid and input functions.
import itertools

from snakemake.utils import min_version, validate

from lwflow import paper_a
from lwflow.problems import load_user_problem

min_version("9.0")


validate(config, workflow.source_path("../schemas/config.schema.yaml"))


def _check_config():
    """Cross-field checks the JSON schema cannot express; fail before any job starts."""
    problems = config["problems"]
    for block in config["experiments"]:
        for name in block["problems"]:
            if name not in problems:
                raise ValueError(
                    f"config: experiments names problem {name!r}, which is not under 'problems' "
                    f"(known: {sorted(problems)}); add it there or fix the name"
                )
    for name, spec in problems.items():
        if spec["kind"] == "user":
            try:
                load_user_problem(spec["target"])
            except ValueError as error:
                raise ValueError(f"config: problems.{name}.target: {error}") from None
    if config["outputs"]["paper_a"]:
        missing = [p for p in paper_a.PROBLEMS if p not in problems]
        if missing:
            raise ValueError(
                f"config: outputs.paper_a is true but problems {missing} are not configured; "
                "add them or set outputs.paper_a: false"
            )
        if config["outputs"]["figure_seed"] not in config["seeds"]:
            raise ValueError("config: outputs.figure_seed must be one of the seeds")


_check_config()

SEEDS = config["seeds"]
MODELS = sorted(
    {
        (problem, arch, str(modes))
        for block in config["experiments"]
        for problem, arch, modes in itertools.product(block["problems"], block["archs"], block["modes"])
    }
)
if config["outputs"]["paper_a"]:
    MODELS = sorted(set(MODELS) | {(p, paper_a.ARCH, str(k)) for p, k in paper_a.models_needed()})
TRUTH_PROBLEMS = sorted(p for p, spec in config["problems"].items() if spec["kind"] != "user")


wildcard_constraints:
    problem=r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*",
    arch=r"[a-z0-9]+",
    modes=r"[1-9][0-9]*|auto",
    seed=r"[0-9]+",
    table=r"paper_a_table[1-3]",
    figure=r"paper_a_fig[2-8]",


def model_dir(problem, arch, modes, seed):
    return f"results/models/{problem}/{arch}_K{modes}/seed{seed}"


def metrics_path(problem, arch, modes, seed):
    return f"results/metrics/{problem}/{arch}_K{modes}/seed{seed}.json"


def model_outputs():
    return [f"{model_dir(*m, s)}/samples.npz" for m in MODELS for s in SEEDS]


def diagnostics_outputs():
    return [f"results/figures/models/{p}/{a}_K{k}/seed{s}.png" for p, a, k in MODELS for s in SEEDS]


def metric_outputs():
    return [metrics_path(*m, s) for m in MODELS if m[0] in TRUTH_PROBLEMS for s in SEEDS]


def paper_a_outputs():
    if not config["outputs"]["paper_a"]:
        return []
    tables = expand("results/tables/{table}.{ext}", table=paper_a.TABLES, ext=["csv", "md"])
    figures = expand("results/figures/{figure}.{ext}", figure=paper_a.FIGURES, ext=["png", "pdf"])
    return tables + figures


def loss_figure_outputs():
    problems = sorted({m[0] for m in MODELS})
    return expand("results/figures/loss_{problem}.{ext}", problem=problems, ext=["png", "pdf"])


def problem_spec(wildcards):
    return config["problems"][wildcards.problem]
