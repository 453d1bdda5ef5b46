# Config validation, the experiment grid and input functions.
import functools
import itertools
import os

from snakemake.logging import logger
from snakemake.utils import min_version, validate

from lwflow import paper_a, paper_b
from lwflow.environment import JOB_ENVIRONMENT
from lwflow.problems import problem_files, problem_from_spec

min_version("9.0")

# Settings for every job's process (lwflow.environment: why each one).  Set here, they
# reach every job, on this machine and on cluster nodes alike.
for _name, _value in JOB_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)


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
    for block in config["experiments"]:
        without = [name for name in block["problems"] if name not in TRUTH_PROBLEMS]
        if block["fit"] == "samples" and without:
            raise ValueError(
                f"config: experiments with fit: samples need exact target draws, which user problems "
                f"{without} do not have (no truth=); use fit: likelihood for them"
            )
    for paper, module in (("paper_a", paper_a), ("paper_b", paper_b)):
        missing = [p for p in module.PROBLEMS if p not in problems]
        if config["outputs"][paper] and missing:
            raise ValueError(
                f"config: outputs.{paper} is true but problems {missing} are not configured; "
                f"add them or set outputs.{paper}: false"
            )
    auto = config["outputs"]["auto_modes"]
    if isinstance(auto, list):
        unusable = [p for p in auto if p not in problems or problems[p]["kind"] == "user"]
        if unusable:
            raise ValueError(
                f"config: outputs.auto_modes names {unusable}, which are not built-in problems under "
                f"'problems' (the table needs the true mode count); list only built-in problems"
            )
    if config["outputs"]["figure_seed"] not in config["seeds"]:
        raise ValueError("config: outputs.figure_seed must be one of the seeds")


@functools.cache
def problem_of(name):
    """The problem of one config entry, built once per workflow parse; a user problem that
    cannot be imported, built or found on disk (module, data) stops the run here."""
    spec = config["problems"][name]
    try:
        problem_files(spec)
        return problem_from_spec(name, spec)
    except (ValueError, TypeError) as error:
        raise ValueError(f"config: problems.{name}: {error}") from None


# Problems with an exact posterior: every built-in, and user problems that bring one (truth=)
TRUTH_PROBLEMS = sorted(
    p for p, spec in config["problems"].items() if spec["kind"] != "user" or problem_of(p).truth is not None
)
_check_config()


def cap_local_cores():
    """Local runs: lower ``--cores`` to ``execution.local_cores`` (auto: the CPUs this process
    may use), so that one-thread jobs never outnumber the CPUs; cluster runs are left alone."""
    wanted = config["execution"]["local_cores"]
    cap = len(os.sched_getaffinity(0)) if wanted == "auto" else wanted
    if workflow.local_exec and workflow._cores is not None and workflow._cores > cap:
        logger.info(
            f"lwflow: running at most {cap} jobs at once, not {workflow._cores}: --cores is capped at "
            f"execution.local_cores ({wanted!r}); set it to an integer to change the cap"
        )
        workflow.global_resources["_cores"] = cap


cap_local_cores()


def expert_modes(arch, modes):
    """Base modes a model is trained with: rbig Gaussianises to a single standard normal."""
    return "1" if arch == "rbig" else str(modes)


SEEDS = config["seeds"]


def block_seeds(block):
    """Seeds of one experiment block: its own ``seeds``, else the global list."""
    return block.get("seeds", SEEDS)


_auto = config["outputs"]["auto_modes"]
AUTO_MODES_PROBLEMS = sorted(_auto) if isinstance(_auto, list) else TRUTH_PROBLEMS if _auto else []


@functools.cache
def mode_counts(problem):
    """(true modes, density maxima) of the exact posterior; None where they are no finite set.
    True modes are the maxima separated by a valley deeper than lwflow.modes.VALLEY_RATIO."""
    truth = problem_of(problem)
    return truth.n_modes, truth.n_density_maxima


def auto_modes_compared(problem):
    """Base modes set side by side in the auto-modes table: auto, 1, the true count and,
    where more, the number of density maxima."""
    counts = [str(k) for k in dict.fromkeys(mode_counts(problem)) if k not in (None, 1)]
    return ["auto", "1"] + counts


# (fit, problem, arch, modes) -> the seeds it is trained for, and its step budget where a
# block sets one (models no block names train for training.max_steps)
MODEL_SEEDS, MODEL_MAX_STEPS = {}, {}
for number, block in enumerate(config["experiments"], start=1):
    for problem, arch, modes in itertools.product(block["problems"], block["archs"], block["modes"]):
        key = (block["fit"], problem, arch, expert_modes(arch, modes))
        MODEL_SEEDS.setdefault(key, set()).update(block_seeds(block))
        steps = block.get("max_steps", config["training"]["max_steps"])
        if MODEL_MAX_STEPS.setdefault(key, steps) != steps:
            raise ValueError(
                f"config: experiments block {number} trains {key[2]} K={key[3]} on {problem} (fit {key[0]}) "
                f"with max_steps {steps}, but an earlier block trains the same model with "
                f"{MODEL_MAX_STEPS[key]}; give both blocks the same max_steps or drop the model from one"
            )
if config["outputs"]["paper_a"]:
    for p, k in paper_a.models_needed():
        MODEL_SEEDS.setdefault(("likelihood", p, paper_a.ARCH, str(k)), set()).update(SEEDS)
for p in AUTO_MODES_PROBLEMS:
    for k in auto_modes_compared(p):
        MODEL_SEEDS.setdefault(("likelihood", p, paper_a.ARCH, k), set()).update(SEEDS)
if config["outputs"]["paper_b"]:
    for p, a in itertools.product(paper_b.PROBLEMS, paper_b.EXPERTS):
        MODEL_SEEDS.setdefault(("samples", p, a, "1"), set()).update(SEEDS)
MODEL_SEEDS = {key: sorted(seeds) for key, seeds in sorted(MODEL_SEEDS.items())}
MODELS = list(MODEL_SEEDS)

# (fit, problem, modes) -> the archs whose AMF-VI / EM mixture is estimated, and its seeds
MIXTURES, MIXTURE_SEEDS = {}, {}
for block in config["experiments"]:
    if block["mixture"]:
        for problem, modes in itertools.product(block["problems"], block["modes"]):
            key = (block["fit"], problem, str(modes))
            MIXTURES.setdefault(key, set()).update(block["archs"])
            MIXTURE_SEEDS.setdefault(key, set()).update(block_seeds(block))
if config["outputs"]["paper_b"]:
    for problem in paper_b.PROBLEMS:
        MIXTURES.setdefault(("samples", problem, "1"), set()).update(paper_b.EXPERTS)
        MIXTURE_SEEDS.setdefault(("samples", problem, "1"), set()).update(SEEDS)
MIXTURES = {key: sorted(archs) for key, archs in sorted(MIXTURES.items())}
MIXTURE_SEEDS = {key: sorted(seeds) for key, seeds in MIXTURE_SEEDS.items()}


wildcard_constraints:
    problem=r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*",
    fit=r"likelihood|samples",
    arch=r"[a-z0-9]+",
    modes=r"[1-9][0-9]*|auto",
    seed=r"[0-9]+",
    chunk=r"[0-9]+",
    table=r"paper_a_table[1-3]",
    figure=r"paper_a_fig[2-8]",


def model_dir(fit, problem, arch, modes, seed):
    return f"results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}"


def metrics_path(fit, problem, arch, modes, seed):
    return f"results/metrics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.json"


def log_q_path(fit, problem, arch, modes, seed):
    """A model's log-density on its problem's reference sample (written with its metrics)."""
    return metrics_path(fit, problem, arch, modes, seed).replace(".json", "_log_q.npz")


def mixture_dir(fit, problem, modes, seed):
    return f"results/mixtures/{fit}/{problem}/K{modes}/seed{seed}"


def model_outputs():
    return [f"{model_dir(*m, s)}/samples.npz" for m in MODELS for s in MODEL_SEEDS[m]]


def summary_outputs(problem=None):
    """Every model's posterior summary (of one problem, where given)."""
    return [
        f"results/summary/{m[0]}/{m[1]}/{m[2]}_K{m[3]}/seed{s}.json"
        for m in MODELS
        for s in MODEL_SEEDS[m]
        if problem in (None, m[1])
    ]


def problem_summary_outputs():
    problems = sorted({m[1] for m in MODELS})
    return expand("results/summary/{problem}.{ext}", problem=problems, ext=["csv", "md"])


def diagnostics_outputs():
    """Pair plots: of figure_seed's models, or of every model (``outputs.pair_plots: all``)."""
    every = config["outputs"]["pair_plots"] == "all"
    return [
        f"results/figures/models/{m[0]}/{m[1]}/{m[2]}_K{m[3]}/seed{s}.png"
        for m in MODELS
        for s in MODEL_SEEDS[m]
        if every or s == config["outputs"]["figure_seed"]
    ]


def metric_outputs():
    return [metrics_path(*m, s) for m in MODELS if m[1] in TRUTH_PROBLEMS for s in MODEL_SEEDS[m]]


def mixture_outputs():
    return [
        f"{mixture_dir(*key, s)}/{name}"
        for key in MIXTURES
        for s in MIXTURE_SEEDS[key]
        for name in (["weights.json", "metrics.json"] if key[1] in TRUTH_PROBLEMS else ["weights.json"])
    ]


def paper_b_outputs():
    outputs = []
    if config["outputs"]["paper_b"]:
        outputs += ["results/tables/paper_b_table2.csv", "results/tables/paper_b_table2.md"]
        outputs += expand("results/figures/paper_b_fig{n}.{ext}", n=[1, 2], ext=["png", "pdf"])
    if any(fit == "likelihood" and problem in TRUTH_PROBLEMS for fit, problem, _ in MIXTURES):
        outputs += ["results/tables/amfvi_likelihood.csv", "results/tables/amfvi_likelihood.md"]
    return outputs


def auto_modes_outputs():
    return ["results/tables/auto_modes.csv", "results/tables/auto_modes.md"] if AUTO_MODES_PROBLEMS else []


def paper_a_outputs():
    if not config["outputs"]["paper_a"]:
        return []
    tables = expand("results/tables/{table}.{ext}", table=paper_a.TABLES, ext=["csv", "md"])
    figures = expand("results/figures/{figure}.{ext}", figure=paper_a.FIGURES, ext=["png", "pdf"])
    return tables + figures


def loss_figure_outputs():
    problems = sorted({m[1] for m in MODELS})
    return expand("results/figures/loss_{problem}.{ext}", problem=problems, ext=["png", "pdf"])


# Settings that change how a job computes, not what: kept out of the params (a rerun trigger).
COMPUTE_ONLY = {"problem": ("likelihood_chunks",), "training": ("device",)}


def problem_spec(problem):
    """The settings of one problem without compute-only keys."""
    spec = config["problems"][problem]
    return {k: v for k, v in spec.items() if k not in COMPUTE_ONLY["problem"]}


def problem_inputs(wildcards):
    """A user problem's module source and data files: inputs of the stages that evaluate the
    prior, the likelihood or the truth, so that editing any of them reruns those stages and
    everything below them."""
    return problem_files(config["problems"][wildcards.problem])


def training_settings(model=None):
    """The training section without compute-only keys; with ``model`` (fit, problem, arch,
    modes), its block's step budget."""
    settings = {k: v for k, v in config["training"].items() if k not in COMPUTE_ONLY["training"]}
    if model in MODEL_MAX_STEPS:
        settings["max_steps"] = MODEL_MAX_STEPS[model]
    return settings
