"""The job wrapper of the rule scripts: log, torch threads, provenance, a frozen heap."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path


def test_job_context_logs_sets_threads_and_freezes_what_exists_on_entry_and_exit(tmp_path: Path) -> None:
    """Run in a fresh process, as a rule script is: ``gc.freeze`` there keeps the interpreter's
    collections (and the one at shutdown) off the objects of torch's import."""
    code = textwrap.dedent(
        f"""
        import gc
        from types import SimpleNamespace
        import torch
        from lwflow.stages import jobs

        job = SimpleNamespace(rule="demo", input=[], output=[], params=SimpleNamespace(),
                              wildcards=SimpleNamespace(seed="3"), log=[{str(tmp_path / "logs" / "demo.log")!r}],
                              threads=2)
        before = gc.get_freeze_count()
        with jobs.job_context(job) as provenance:
            on_entry = gc.get_freeze_count()
            print("inside the job", torch.get_num_threads(), provenance.seed)
            made_inside = [[] for _ in range(1000)]
        print(before, on_entry, gc.get_freeze_count(), len(made_inside))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, on_entry, on_exit, _ = map(int, result.stdout.split())
    assert before == 0 and on_entry > 100_000 and on_exit >= on_entry + 1000
    assert (tmp_path / "logs" / "demo.log").read_text().strip() == "inside the job 2 3"


def test_an_input_changed_after_it_was_made_is_refused_before_use(tmp_path: Path) -> None:
    from types import SimpleNamespace

    import numpy as np
    import pytest

    from lwflow.artefacts import Provenance, TamperedInputError, write_npz
    from lwflow.stages import jobs

    made = tmp_path / "samples.npz"
    write_npz(made, {"samples": np.zeros((100, 2))}, Provenance("train_flow", [], {}))
    job = SimpleNamespace(rule="score", input=[str(made)], output=[], params=SimpleNamespace(),
                          wildcards=SimpleNamespace(), log=[str(tmp_path / "score.log")], threads=1)  # fmt: skip
    with jobs.job_context(job) as provenance:
        assert provenance.sidecar(made)["inputs"] == {str(made): provenance.input_hashes[str(made)]}
    data = bytearray(made.read_bytes())
    data[len(data) // 2] ^= 1  # one flipped bit
    made.write_bytes(bytes(data))
    with pytest.raises(TamperedInputError, match="samples.npz was changed after it was made"), jobs.job_context(job):
        pass
    assert "snakemake --forcerun train_flow" in (tmp_path / "score.log").read_text()


def test_the_likelihood_jobs_do_not_import_torch_or_pandas(modules_imported_by):
    """About 1.5 s and 0.45 s per job on this machine: the prior draws' likelihood chunks skip them."""
    code = (
        "import numpy as np, yaml\n"
        "from lwflow.stages import data, runner\n"
        "try:\n"  # the job's own imports, then its refusal of a chunk that does not exist
        "    data.evaluate_likelihood('x', {}, 'prior.npz', 5, 1, 'out.npz', None)\n"
        "except ValueError as error:\n"
        "    assert 'chunk 5 does not exist' in str(error)\n"
        "from lwflow.fitting.weights import evaluate_log_likelihood\n"
        "from lwflow.problems import problem_from_spec\n"
        "from lwflow.problems.likelihoods import likelihood_pool\n"
        f"problems = yaml.safe_load(open({str(Path(__file__).parents[1] / 'config.yaml')!r}))['problems']\n"
        "for name, spec in problems.items():\n"
        "    problem = problem_from_spec(name, spec)\n"
        "    evaluate_log_likelihood(problem, problem.prior.sample(10, np.random.default_rng(0)))\n"
    )
    modules = modules_imported_by(code)
    assert "lwflow.fitting.weights" in modules and "torch" not in modules and "pandas" not in modules


def test_every_rule_runs_a_stage_of_the_runner_through_the_one_script_in_a_job_slot() -> None:
    import re

    import pytest

    from lwflow.stages.runner import STAGES, run, stage_of

    root = Path(__file__).parents[1] / "workflow"
    rule_files = "".join(path.read_text() for path in (root / "rules").glob("*.smk"))
    rules = set(re.findall(r"^(?:rule|checkpoint) (\w+):", rule_files, re.M))
    rules.add("model_metrics_likelihood_gmm2d_3mode_seeds0_1")  # the generated scoring rules (evaluate.smk)
    rules.add("sample_models_likelihood_gmm2d_3mode_seeds0_1")  # the generated sampling rules (train.smk)
    scripts = re.findall(r"script:\n\s+f?\"([^\"]+)\"", rule_files)
    assert len(rules) > 20 and len(scripts) == len(rules)  # one script per rule (the generated ones share one)
    assert set(scripts) == {"../scripts/stage.py"}, "every rule's script is the runner's"
    slots = re.findall(r"resources:\n\s+local_job_slots=1,\n", rule_files)
    assert len(slots) == len(scripts), "every rule claims one local job slot (common.smk's cap_local_jobs)"
    assert {stage_of(rule) for rule in rules} == set(STAGES), "one stage per rule family, none unused"
    assert [p.name for p in (root / "scripts").glob("*.py")] == ["stage.py"]
    job = type("Job", (), {"rule": "no_such_rule"})()
    with pytest.raises(KeyError, match="rule 'no_such_rule' has no stage in lwflow.stages.runner.STAGES"):
        run(job)


def test_a_round_draws_as_many_points_as_the_last_rounds_report_sized_it(tmp_path: Path) -> None:
    """The workflow's propose_round reads the size from round r-1's report (``next_n``), as the
    library's rounds do (lwflow.fitting.rounds.round_size); without one (round 0), the tempering
    share of n_per_round."""
    from lwflow.artefacts import Provenance, read_npz
    from lwflow.settings import AdaptiveConfig
    from lwflow.stages import rounds

    spec = {"kind": "gaussian_mixture", "bounds": [-5, 5], "means": [[0, 0]], "covariances": [[[1, 0], [0, 1]]]}
    adaptive = AdaptiveConfig(n_per_round=1000, tempering_round_share=0.5, defensive_share=0.1)
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"next": "train", "next_n": 300}))
    for last, expected in ((report, 300), (None, 500)):
        out = tmp_path / f"draws_{expected}.npz"
        rounds.propose_round("g", spec, adaptive, None, last, 0, 0, out, Provenance("propose_round", [], {}))
        assert len(read_npz(out)["theta"]) == expected
