"""Shared fixtures: the default configuration's problems."""

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
