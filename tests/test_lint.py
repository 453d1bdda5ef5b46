"""The project's own checks, so that CI (`make test`) runs them: ruff, snakefmt and Snakemake's
linter on the default and the smoke config."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SOURCES = ["src", "tests", "workflow", "benchmarks", "docs"]


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "ruff"), "check", *SOURCES],
        [str(BIN / "ruff"), "format", "--check", *SOURCES],
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"],
        [sys.executable, "-m", "snakemake", "--lint"],
        [sys.executable, "-m", "snakemake", "--lint", "--configfile", "tests/config/smoke.yaml"],
    ],
    ids=["ruff", "ruff-format", "snakefmt", "snakemake-lint", "snakemake-lint-smoke"],
)
def test_the_code_passes_its_linters(command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    if "--lint" in command:
        assert "Congratulations" in result.stdout + result.stderr


def test_the_configuration_reference_is_what_the_schema_says():
    sys.path.insert(0, str(ROOT / "docs"))
    import configuration

    assert (ROOT / "docs" / "configuration.md").read_text() == configuration.reference(), (
        "docs/configuration.md is stale: python docs/configuration.py > docs/configuration.md"
    )


def test_the_schema_states_the_adaptive_rounds_defaults():
    import dataclasses

    import yaml

    from lwflow.fitting.rounds import AdaptiveConfig

    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    fields = schema["properties"]["experiments"]["items"]["properties"]["adaptive"]["properties"]
    for name, default in dataclasses.asdict(AdaptiveConfig()).items():
        assert f"(default {default:g})" in fields[name]["description"], name
