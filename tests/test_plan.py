"""The experiment plan: what a config schedules, and that every table reads only scheduled artefacts."""

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from lwflow.problems import problem_from_spec
from lwflow.stages.config_file import ConfigError, check_config_file, with_defaults
from lwflow.stages.plan import Plan, floor_path, rows_inputs
from lwflow.stages.settings import ModelSettings

ROOT = Path(__file__).resolve().parents[1]


def plan_of(config: dict) -> Plan:
    config = copy.deepcopy(config)
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))  # fills the schema's defaults
    return Plan.from_config(config, lambda name: problem_from_spec(name, config["problems"][name]))


@pytest.fixture(scope="module")
def smoke() -> dict:
    return yaml.safe_load((ROOT / "tests/config/smoke.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "tests/config/smoke.yaml", "configs/paper_b_recipe.yaml"])
def test_the_library_fills_a_configs_defaults_as_the_workflows_validate_does(name):
    """``with_defaults`` (no Snakemake in the library) gives the config the workflow runs on."""
    config = yaml.safe_load((ROOT / name).read_text())
    filled = with_defaults(config)
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
    assert filled == config and "execution" in filled


def test_the_smoke_plan_schedules_every_block_and_paper_a(smoke):
    plan = plan_of(smoke)
    assert plan.model_seeds[("likelihood", "gmm2d_3mode", "realnvp", "3")] == [0, 1]
    assert plan.model_seeds[("samples", "two_moons", "nsf", "1")] == [0]  # the block's own seeds
    assert ("likelihood", "gmm2d_3mode", "rbig", "1") in plan.model_seeds  # rbig: one base mode in a K=3 block
    assert ("likelihood", "gmm2d_3mode", "realnvp", "auto") in plan.model_seeds  # the auto-modes table
    assert plan.training_settings(("samples", "two_moons", "maf", "1"))["max_steps"] == 20
    assert plan.mixtures[("samples", "two_moons", "1")] == ["maf", "nsf", "rbig", "realnvp"]


def test_every_table_reads_only_artefacts_the_plan_makes(smoke):
    plan = plan_of(smoke)
    made = set(plan.metric_outputs()) | set(plan.mixture_outputs())
    made |= {floor_path(p, s) for p in plan.truth_problems for s in plan.seeds}
    made |= {
        f"results/models/{m[0]}/{m[1]}/{m[2]}_K{m[3]}/seed{s}/modes.json"
        for m, seeds in plan.model_seeds.items()
        for s in seeds
    }
    rows = [
        row
        for table in ("paper_a_table1", "paper_a_table2", "paper_a_table3")
        for row in plan.paper_a_table_rows(table)
    ]
    rows += plan.amfvi_likelihood_rows() + plan.auto_modes_rows()
    assert rows and set(rows_inputs(rows)) <= made
    groups = plan.scoring_groups()
    scored = {(fit, problem, arch, modes) for (fit, problem, _), members in groups.items() for arch, modes in members}
    assert scored == {m for m in plan.models if m[1] in plan.truth_problems}
    sampling = plan.sampling_groups()  # every model sampled once, by the job of its (fit, problem, seeds)
    sampled = [
        (fit, problem, arch, modes, seeds) for (fit, problem, seeds), group in sampling.items() for arch, modes in group
    ]
    assert sorted(m[:4] for m in sampled) == sorted(plan.models)
    assert all(tuple(plan.model_seeds[m[:4]]) == m[4] for m in sampled)
    assert len(sampling) < len(plan.models)  # fewer jobs than models: the point of the groups


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: c["experiments"].append({**c["experiments"][0], "max_steps": 7}),
            "experiments block 6 .* max_steps 7",
        ),
        (
            lambda c: c["experiments"].append({**c["experiments"][-1], "adaptive": {"n_per_round": 500}}),
            "experiments block 6 runs adaptive rounds .* same adaptive: section",
        ),
        (lambda c: c["outputs"].update(paper_b=True), "outputs.paper_b is true but problems"),
        (lambda c: c["outputs"].update(figure_seed=9), "figure_seed must be one of the seeds"),
        (lambda c: c["experiments"][0].update(problems=["nowhere"]), "names problem 'nowhere'"),
        (lambda c: c["problems"]["gmm2d_3mode"].pop("n_prior_samples"), r"\['gmm2d_3mode'\] .* no n_prior_samples"),
    ],
)
def test_a_config_that_cannot_run_is_refused_naming_the_key(smoke, edit, message):
    config = copy.deepcopy(smoke)
    edit(config)
    with pytest.raises(ConfigError, match=message):
        plan_of(config)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(seeds=[]), "seeds"),
        (lambda c: c.update(seeds=[2**32]), "seeds"),
        (lambda c: c["experiments"][0].update(archs=["glow"]), "archs"),
        (lambda c: c["clipping"].update(threshold=1.5), "threshold"),
        (lambda c: c["outputs"].update(auto_modes=["gmm2d_9mode"]), "auto_modes"),
        (lambda c: c["experiments"][2].update(proposal="adaptive"), "proposal: adaptive"),
        (lambda c: c["experiments"][0].update(adaptive={"n_per_round": 500}), "adaptive: section"),
        (lambda c: c["experiments"][-1]["adaptive"].update(max_calls=500), "max_calls"),
        (lambda c: c["experiments"][-1]["adaptive"].update(defensive_share=1.5), "defensive_share"),
    ],
)
def test_a_bad_config_is_refused_by_the_checks_the_workflow_runs_when_it_reads_it(smoke, edit, message):
    """The schema and the plan, as workflow/rules/common.smk runs them before any job
    (test_workflow.py runs one case of each through Snakemake)."""
    config = copy.deepcopy(smoke)
    edit(config)
    with pytest.raises((ConfigError, WorkflowError), match=message):
        plan_of(config)


def test_a_problem_run_only_by_adaptive_rounds_needs_no_n_prior_samples(smoke):
    config = copy.deepcopy(smoke)
    del config["problems"]["gmm2d_2mode"]["n_prior_samples"]
    config["outputs"].update(paper_a=False)  # paper A fits it from prior draws
    for block in config["experiments"]:
        if block.get("proposal") != "adaptive":
            block["problems"] = [name for name in block["problems"] if name != "gmm2d_2mode"]
    assert ("adaptive", "gmm2d_2mode", "realnvp", "2") in plan_of(config).models


def test_a_rounds_proposal_flow_records_the_proposal_patience_and_the_final_flow_the_trainings(smoke):
    config = copy.deepcopy(smoke)
    config["training"]["patience"] = 7
    next(block for block in config["experiments"] if block.get("proposal") == "adaptive")["adaptive"] |= {
        "proposal_patience": 3
    }
    plan = plan_of(config)
    proposal = plan.proposal_model_settings("gmm2d_2mode", "realnvp", "2")
    final = plan.final_model_settings("adaptive", "gmm2d_2mode", "realnvp", "2")
    assert proposal.training.patience == 3 and final.training.patience == 7
    assert dataclasses.replace(proposal.training, patience=7) == final.training and proposal.warm_start_steps == 20
    assert final.recorded()["refine"] == plan.config["refine"] and "refine" not in proposal.recorded()
    for settings in (proposal, final):  # what the runner builds back from what the rule records
        assert ModelSettings.from_recorded(settings.recorded()) == settings


def test_leaving_out_outputs_schedules_only_the_experiments(smoke):
    config = {"seeds": [0], "problems": {"gmm2d_1mode": smoke["problems"]["gmm2d_1mode"]}}
    config["experiments"] = [{"problems": ["gmm2d_1mode"], "archs": ["realnvp"], "modes": [1]}]
    plan = plan_of(config)
    assert plan.models == [("likelihood", "gmm2d_1mode", "realnvp", "1")]
    assert not plan.paper_a_outputs() and not plan.paper_b_outputs() and not plan.auto_modes_outputs()


def test_a_key_given_twice_in_a_config_file_is_refused_naming_both_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("seeds: [0]\ntraining: {max_steps: 10}\nproblems: {}\ntraining: {max_steps: 20}\n")
    with pytest.raises(ConfigError, match="key 'training' appears twice in one mapping \\(lines 2 and 4\\)"):
        check_config_file(path)
    (tmp_path / "broken.yaml").write_text("seeds: [0]\ntraining: {max_steps: 10\nproblems: {}\n")
    with pytest.raises(ConfigError, match="YAML syntax error at line 3, column 9"):
        check_config_file(tmp_path / "broken.yaml")
    (tmp_path / "once.yaml").write_text((ROOT / "tests/config/smoke.yaml").read_text())
    check_config_file(tmp_path / "once.yaml")
