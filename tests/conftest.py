"""Shared fixtures: the default configuration's problems; modules a fresh interpreter imports."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from lwflow.problems import Problem, problem_from_spec

ROOT = Path(__file__).resolve().parents[1]


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
