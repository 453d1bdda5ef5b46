# Config validation, the experiment plan (lwflow.stages.plan) and the input functions that read it.
import functools
import json
import os

from snakemake.logging import logger
from snakemake.utils import min_version, validate

from lwflow.reproduction import paper_a, paper_b
from lwflow.stages.environment import JOB_ENVIRONMENT
from lwflow.stages.plan import Plan, expert_modes, log_q_path, metrics_path, mixture_dir, model_dir, rows_inputs
from lwflow.problems import problem_files, problem_from_spec

min_version("9.0")

# Settings for every job's process (lwflow.stages.environment: why each one).  Set here, they
# reach every job, on this machine and on cluster nodes alike.
for _name, _value in JOB_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)


validate(config, workflow.source_path("../schemas/config.schema.yaml"))


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


PLAN = Plan.from_config(config, problem_of)
SEEDS = PLAN.seeds
TRUTH_PROBLEMS = PLAN.truth_problems


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
