# Config validation, the experiment plan (lwflow.stages.plan) and the input functions that read it.
import functools
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path

from snakemake.logging import logger
from snakemake.utils import min_version, validate

from lwflow.reproduction import paper_a, paper_b
from lwflow.stages.environment import JOB_ENVIRONMENT
from lwflow.stages.config_file import check_config_file
from lwflow.stages.plan import (
    Plan,
    base_modes_of,
    generated_family,
    group_name,
    log_q_path,
    metrics_path,
    mixture_dir,
    model_dir,
    rows_inputs,
    summary_path,
)
from lwflow.artefacts import read_sidecar, read_verified, read_verified_json
from lwflow.problems import problem_files, problem_from_spec

min_version("9.0")

# Settings for every job's process (lwflow.stages.environment: why each one).  Set here, they
# reach every job, on this machine and on cluster nodes alike.
for _name, _value in JOB_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)


for _path in workflow.configfiles:
    check_config_file(_path)
# The schema's path on disk, not source_path's cached copy: its $refs into the settings schema
# beside it (a link to src/lwflow/settings.schema.yaml, one definition for fit() and the config) are relative.
validate(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))

# The software of every job, for --sdm conda (a path relative to workflow/rules/), the pinned lock
# envs/constraints.txt installed by pip.  Without --sdm conda, jobs run in the environment
# Snakemake runs in (the README's quick start); the conda route is not tested here.
LWFLOW_ENV = "../../envs/lwflow.yaml"


@functools.cache
def problem_of(name):
    """The problem of one config entry, built once per workflow parse; a user problem that
    cannot be imported, built or found on disk (module, data), or a built-in whose prior box
    misses its target (the truth's box mass), stops the run here."""
    spec = config["problems"][name]
    try:
        problem_files(spec)
        problem = problem_from_spec(name, spec)
        if problem.truth is not None:
            problem.truth.log_mass  # computed on first use: here, before any job
        return problem
    except (ValueError, TypeError) as error:
        raise ValueError(f"config: problems.{name}: {error}") from None


PLAN = Plan.from_config(config, problem_of)
SEEDS = PLAN.seeds
TRUTH_PROBLEMS = PLAN.truth_problems


def cap_local_jobs():
    """Local runs: at most ``execution.local_cores`` jobs at once (auto: the CPUs this process
    may use), whatever ``--cores`` says, so that one-thread jobs never outnumber the CPUs.
    Every rule claims one ``local_job_slots`` (Snakemake's custom resources); this gives the
    run that many slots unless ``--resources local_job_slots=N`` did. Cluster runs: no cap."""
    if not workflow.local_exec or LOCAL_JOB_SLOTS in workflow.global_resources:
        return
    wanted = config["execution"]["local_cores"]
    cap = len(os.sched_getaffinity(0)) if wanted == "auto" else wanted
    workflow.register_resource(LOCAL_JOB_SLOTS, cap)
    cores = workflow.resource_settings.cores  # --cores as given
    if cores is not None and cores > cap:
        logger.info(
            f"lwflow: running at most {cap} jobs at once, not {cores}: every job takes one of "
            f"execution.local_cores ({wanted!r}) job slots; set it to an integer to change the cap"
        )


LOCAL_JOB_SLOTS = "local_job_slots"
cap_local_jobs()


wildcard_constraints:
    problem=r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*",
    fit=r"likelihood|samples|adaptive",
    arch=r"[a-z0-9]+",
    modes=r"[1-9][0-9]*|auto",
    seed=r"[0-9]+",
    chunk=r"[0-9]+",
    round=r"[0-9]+",
    table=r"paper_a_table[1-3]",
    figure=r"paper_a_fig[2-8]",


def problem_inputs(wildcards):
    """A user problem's module source and data files: inputs of the stages that evaluate the
    prior, the likelihood or the truth, so that editing any of them reruns those stages and
    everything below them."""
    return problem_files(config["problems"][wildcards.problem])


def problem_code(wildcards):
    """A user problem's module source alone: the input of the stages that draw from its prior,
    which a data file edit does not rerun (the likelihood's job checks the prior is unchanged)."""
    return problem_files(config["problems"][wildcards.problem], data=False)


# input functions of data.smk


def likelihood_chunks(wildcards):
    n = config["problems"][wildcards.problem]["likelihood_chunks"]
    return [f"results/likelihood/{wildcards.problem}/seed{wildcards.seed}/chunk{i}.npz" for i in range(n)]


# input functions of train.smk


def training_data(wildcards):
    """fit likelihood: prior draws, their clipped weights and the weights' report; fit samples: exact
    target draws; fit adaptive: the last round's pooled draws, their weights and its report."""
    if wildcards.fit == "samples":
        return {"theta": f"results/target/{wildcards.problem}/seed{wildcards.seed}.npz"}
    if wildcards.fit == "adaptive":
        return last_round(wildcards)
    return {
        "theta": f"results/prior/{wildcards.problem}/seed{wildcards.seed}.npz",
        "weights": f"results/weights/{wildcards.problem}/seed{wildcards.seed}.npz",
        "report": f"results/weights/{wildcards.problem}/seed{wildcards.seed}_report.json",
    }


class MemberWildcards(dict):
    """The wildcards of one model of a group rule's job (whose own wildcards are only the seed),
    for the input functions written for one model's wildcards."""

    __getattr__ = dict.__getitem__


def sampling_group_inputs(fit, problem, members):
    """The input function of a sample_models_<group> rule: per model of the group, at the job's
    seed, its checkpoint, base-modes record and, where its fit has one, its weights' report."""

    def inputs(wildcards):
        grouped = {"models": [], "modes": [], "reports": []}
        for arch, modes in members:
            member = MemberWildcards(fit=fit, problem=problem, arch=arch, modes=modes, seed=wildcards.seed)
            paths = sampling_inputs(member)
            grouped["models"].append(paths["model"])
            grouped["modes"].append(paths["modes"])
            if "report" in paths:
                grouped["reports"].append(paths["report"])
        return {key: paths for key, paths in grouped.items() if paths}

    return inputs


def sampling_inputs(wildcards):
    """One trained model, its base-modes record and, where its fit has one, its weights' report."""
    folder = model_dir(wildcards.fit, wildcards.problem, wildcards.arch, wildcards.modes, wildcards.seed)
    data = {key: path for key, path in training_data(wildcards).items() if key == "report"}
    return {"model": f"{folder}/model.pt", "modes": f"{folder}/modes.json"} | data


# input functions of rounds.smk


def round_path(name, wildcards, round_index, **chunk):
    """Artefact ``name`` of round ``round_index`` of the adaptive model in ``wildcards``."""
    model = (wildcards.problem, wildcards.arch, wildcards.modes, wildcards.seed)
    return PLAN.round_path(name, *model, round_index, **chunk)


def round_proposal(wildcards):
    """Round r > 0 draws from round r-1's flow, as many draws as round r-1's report says."""
    r = int(wildcards.round)
    if r == 0:
        return {}
    return {
        "proposal": round_path("round_model", wildcards, r - 1),
        "last_report": round_path("round_report", wildcards, r - 1),
    }


def round_warm_start(wildcards):
    """Round r > 0's flow starts from round r-1's (lwflow.settings.AdaptiveConfig.warm_start_steps)."""
    r = int(wildcards.round)
    return {"warm_start": round_path("round_model", wildcards, r - 1)} if r > 0 else {}


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


def last_round(wildcards):
    """The pool and report of the round that ended one adaptive model's rounds: walks the
    rounds' reports, each a checkpoint, until one says no round follows.  Each report is checked
    against its sidecar before its decision is taken; once the final flow exists, a round
    artefact that is gone is named with the command that remakes it."""
    trained_from = final_flow_round(wildcards)
    r = 0
    while True:
        if r <= trained_from:
            require_round(wildcards, r)
        elif trained_from >= 0 and not os.path.exists(round_path("round_report", wildcards, r)):
            # Snakemake leaves a checkpoint not yet run behind an existing output alone ("Nothing to be done")
            folder = adaptive_model_dir(wildcards)
            raise ValueError(
                f"the final flow in {folder} was trained on round {trained_from}, but the rounds now go on past "
                f"round {r - 1} (their settings changed); it is stale: remove it with rm -r {folder} and rerun, "
                "which trains it on the new rounds"
            )
        keys = {key: wildcards[key] for key in MODEL_KEYS}
        record = checkpoints.weigh_round.get(round=r, **keys).output.record
        if read_verified_json(record)["next"] != "train":
            pool = round_path("round_pool", wildcards, r)
            return {"theta": pool, "weights": pool, "report": record}
        r += 1


MODEL_KEYS = ("problem", "arch", "modes", "seed")


def adaptive_model_dir(wildcards):
    """The folder of the final flow of the adaptive model in ``wildcards``."""
    return model_dir("adaptive", *(wildcards[k] for k in MODEL_KEYS))


def final_flow_round(wildcards):
    """The round whose pool the final flow of an adaptive model was trained on (from its sidecar),
    or -1 where it has none yet.  Rounds up to it must be there; later ones, or rounds being
    redone under changed settings, are Snakemake's to make."""
    sidecar = f"{adaptive_model_dir(wildcards)}/model.pt.json"
    if not os.path.exists(sidecar):
        return -1
    inputs = read_sidecar(sidecar).get("inputs", {})
    found = [re.fullmatch(r"round(\d+)", Path(name).parent.name) for name in inputs if Path(name).name == "pool.npz"]
    return max((int(match.group(1)) for match in found if match), default=-1)


def require_round(wildcards, r):
    """Round ``r`` of a finished adaptive model: its draws, likelihood, pool and report, and its
    flow where a later round drew from it; any that is gone is named with the command that
    remakes it (Snakemake would otherwise see nothing to do: the final flow is there)."""
    names = ["round_draws", "round_likelihood", "round_pool", "round_report"]
    if os.path.exists(round_path("round_report", wildcards, r + 1)):
        names += ["round_model", "round_loss", "round_modes"]
    missing = [round_path(name, wildcards, r) for name in names if not os.path.exists(round_path(name, wildcards, r))]
    if missing:
        raise ValueError(
            f"the adaptive rounds behind {adaptive_model_dir(wildcards)} finished, but "
            f"round {r}'s {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} gone; remake "
            f"{'it' if len(missing) == 1 else 'them'} with: snakemake --cores 1 {' '.join(missing)} "
            "(the rounds are deterministic: the same files come back), then rerun"
        )


def verified(template):
    """An input function: ``template``'s path, checked against its sidecar when it exists, so
    that a changed input is refused while the DAG is built, before Snakemake deletes the
    outputs that were made from it (the likelihood chunks of changed draws)."""

    def path(wildcards):
        filled = template.format(**wildcards)
        if os.path.exists(filled):
            read_verified(filled)
        return filled

    return path


# input functions of evaluate.smk


def mixture_experts(wildcards):
    """arch -> the model folder of each expert of one mixture (rbig always with one base mode)."""
    experts = PLAN.mixture_experts(wildcards.fit, wildcards.problem, wildcards.modes, wildcards.seed)
    return {arch: model_dir(*key) for arch, key in experts.items()}


def mixture_metric_inputs(wildcards):
    experts = PLAN.mixture_experts(wildcards.fit, wildcards.problem, wildcards.modes, wildcards.seed)
    return {
        "log_q": {arch: log_q_path(*key) for arch, key in experts.items()},
        "samples": {arch: f"{model_dir(*key)}/samples.npz" for arch, key in experts.items()},
    }


# input functions of report.smk


def diagnostics_background(wildcards):
    """The exact posterior where there is one; else the model's own weighted draws: the last
    round's pool for adaptive rounds (no one-shot prior draws, whose ESS is what adaptive rounds
    avoid), the clipped prior draws otherwise."""
    if wildcards.problem in TRUTH_PROBLEMS:
        return {"reference": f"results/truth/{wildcards.problem}/seed{wildcards.seed}.npz"}
    if wildcards.fit == "adaptive":
        return {"pool": last_round(wildcards)["theta"]}
    return {
        "prior": f"results/prior/{wildcards.problem}/seed{wildcards.seed}.npz",
        "weights": f"results/weights/{wildcards.problem}/seed{wildcards.seed}.npz",
    }


def rule_family(name):
    """A rule's name in the report's graph: the generated ``model_metrics_<group>`` and
    ``sample_models_<group>`` rules as one each."""
    family = generated_family(name)
    return f"{family}_*" if family else name


def one_node_per_rule(dag):
    """The report's rule graph with one node per rule (family) and one link per pair of them.

    Snakemake's own (``snakemake.report.rulegraph_spec``) keeps one job of each rule per level of
    the DAG's topological order, so the adaptive rounds' rules, a level apart each round, are
    drawn once per round.  Here each rule sits at the depth of its shallowest job (the longest
    chain of jobs that job needs), in the same layout (``fx``, ``fy``), and a link joins two
    rules if any job of one needs a job of the other: ``links_direct`` are those between
    neighbours, drawn straight; the rest are arcs."""
    level = {}
    for job in (job for jobs in dag.toposorted() for job in jobs):  # a job after those it needs
        level[job] = 1 + max((level.get(dep, 0) for dep in dag.dependencies[job]), default=-1)
    first = {}
    for job, depth in level.items():
        name = rule_family(job.rule.name)
        first[name] = min(first.get(name, depth), depth)
    order = sorted(first, key=lambda name: (first[name], name))
    index = {name: i for i, name in enumerate(order)}
    pairs = {
        (index[rule_family(dep.rule.name)], index[rule_family(job.rule.name)])
        for job in dag.jobs
        for dep in dag.dependencies[job]
    }
    nodes = [{"rule": name, "fx": 10, "fy": i * 50} for i, name in enumerate(order)]
    links = [
        {"source": s, "target": t, "sourcerule": order[s], "targetrule": order[t], "value": 1}
        for s, t in sorted(pairs)
        if s != t
    ]
    spec = {
        "nodes": nodes,
        "links": [link for link in links if link["target"] - link["source"] != 1],
        "links_direct": [link for link in links if link["target"] - link["source"] == 1],
    }
    return spec, 100, max([node["fy"] for node in nodes], default=0)


# The HTML reporter is imported only for --report, before this file is read: it draws our graph.
if "snakemake.report.html_reporter" in sys.modules:
    sys.modules["snakemake.report.html_reporter"].rulegraph_spec = one_node_per_rule
