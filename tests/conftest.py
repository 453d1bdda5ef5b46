"""Shared fixtures: the default configuration's problems; modules a fresh interpreter imports; the
smoke run that the workflow tests read."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from workflow_runs import FinishedRun, smoke_config

from lwflow.problems import Problem, problem_from_spec

ROOT = Path(__file__).resolve().parents[1]


# The order of the files (loadfile: a file is one worker's unit, in this order). The smoke run
# starts at once, beside the short files; the files that make workflow runs of their own come
# after them, longest first (seconds on a quiet 2-core machine, --durations), so that two runs
# on two cores overlap only at the end and test_workflow_rounds.py, which reads the smoke run
# last, finds it made instead of waiting for it
FIRST = ["test_workflow.py"]  # the smoke run (865 s in the suite of 2026-12-07); test_workflow_faults.py reads it too
LAST = [
    "test_workflow_rounds.py",  # 120 s
    "test_slurm.py",  # 80 s
    "test_workflow_resume.py",  # 65 s
    "test_workflow_user.py",  # 60 s
    "test_benchmarks.py",  # 60 s
    "test_workflow_faults.py",  # 60 s
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of :data:`FIRST`, the others as collected, then those of :data:`LAST`."""
    rank = {name: i - len(FIRST) for i, name in enumerate(FIRST)} | {name: 1 + i for i, name in enumerate(LAST)}
    items.sort(key=lambda item: rank.get(item.path.name, 0))


@pytest.fixture(scope="session")
def default_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.fixture(scope="session")
def default_problems(default_config) -> dict[str, Problem]:
    return {name: problem_from_spec(name, spec) for name, spec in default_config["problems"].items()}


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One intra-op thread: the tests are small, and more threads only contend on 2 cores."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def modules_imported_by() -> Callable[[str], set[str]]:
    """Runs ``code`` in a fresh Python process and returns the modules it has imported by the end."""

    def run(code: str) -> set[str]:
        listing = "\nimport sys\nprint('--- modules'); print('\\n'.join(sys.modules))"
        result = subprocess.run([sys.executable, "-c", code + listing], capture_output=True, text=True, check=True)
        return set(result.stdout.split("--- modules", 1)[1].split())

    return run


@pytest.fixture(scope="session")  # one smoke run for the whole session, every xdist worker included
def smoke_outcome(tmp_path_factory) -> FinishedRun:
    return FinishedRun.shared(tmp_path_factory, "smoke", smoke_config())


@pytest.fixture
def smoke_run(smoke_outcome) -> Path:
    return smoke_outcome.get()
