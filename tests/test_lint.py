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
        [str(BIN / "lint-imports")],  # pyproject's [tool.importlinter]: layers top-down, no import loop
    ],
    ids=["ruff", "ruff-format", "snakefmt", "snakemake-lint", "snakemake-lint-smoke", "import-layers"],
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


@pytest.mark.parametrize(
    "kind",
    [
        "lwflow.settings.TrainConfig",
        "lwflow.settings.ClippingConfig",
        "lwflow.settings.ModelConfig",
        "lwflow.settings.ModeSelectionConfig",
        "lwflow.settings.AdaptiveConfig",
        "lwflow.settings.CheckConfig",
        "lwflow.settings.RefineConfig",
        "lwflow.settings.RBIGConfig",
        "lwflow.settings.AMFVIConfig",
        "lwflow.settings.EvaluationConfig",
    ],
)
def test_every_settings_object_has_its_schema_section_s_keys_and_defaults(kind):
    """The settings dataclasses and the settings schema (which the config schema refers to) name
    the same keys with the same defaults, so fit() and the workflow start from one definition."""
    import dataclasses
    import importlib

    from lwflow.settings import section_schema

    module, name = kind.rsplit(".", 1)
    settings = getattr(importlib.import_module(module), name)
    properties = section_schema(settings.SECTION)["properties"]
    assert {key: value["default"] for key, value in properties.items()} == dataclasses.asdict(settings())


def test_the_library_and_the_workflow_give_an_architecture_the_same_layers():
    """``lwflow.fit(model={"arch": "nsf"})``, ``lwflow fit --arch nsf`` and the workflow's defaults
    stack the same layers (nsf used to get 8 in the library and 4 in the workflow)."""
    import yaml

    from lwflow.cli import parser
    from lwflow.settings import ModelConfig

    flow = yaml.safe_load((ROOT / "src/lwflow/config.schema.yaml").read_text())["properties"]["flow"]["properties"]
    workflow = {"realnvp": flow["n_layers"]["default"], "maf": flow["n_layers"]["default"]}
    workflow["nsf"] = flow["nsf_layers"]["default"]
    command = parser().parse_args(["fit", "m:f", "--out", "o"]).n_layers
    for arch, layers in workflow.items():
        assert ModelConfig(arch=arch).n_layers == layers == ModelConfig(arch=arch, n_layers=command).n_layers
    assert ModelConfig(arch="nsf", n_layers=6).n_layers == 6


def test_every_number_in_the_readme_results_is_on_a_results_page():
    """The README's headline results are copied from the pages the workflow and the benchmarks
    write (docs/results), so a run that changes them makes this test fail until they match."""
    import re

    results = (ROOT / "README.md").read_text().split("## Results", 1)[1].split("\n## ", 1)[0]
    pages = "\n".join(path.read_text() for path in (ROOT / "docs" / "results").glob("*.md"))
    numbers = re.findall(r"(?<![\w.])\d+\.\d{3,}(?![\w.])|\d\.\d\dx", results)
    assert len(numbers) > 10
    missing = [number for number in numbers if number not in pages]
    assert not missing, f"README numbers on no page of docs/results: {missing}"


def test_the_public_functions_and_classes_list_their_arguments():
    """As zuko and sbi do: every parameter of lwflow's public callables (``lwflow.__all__``, but
    the settings dataclasses, whose fields the schema documents) and of ``Posterior.sample`` is
    named in its docstring's ``Arguments:`` list."""
    import dataclasses
    import inspect

    import lwflow
    from lwflow.fitting.posterior import Posterior

    def documented(obj) -> set[str]:
        doc = inspect.getdoc(obj) or ""
        assert "Arguments:" in doc, f"{obj.__qualname__} has no Arguments: list"
        section = doc.split("Arguments:", 1)[1].split("\n\n", 1)[0]
        return {line.split(":", 1)[0].strip() for line in section.splitlines() if line.startswith("    ")}

    callables = [getattr(lwflow, name) for name in lwflow.__all__ if not name.endswith("Config") and name != "Prior"]
    callables.append(Posterior.sample)
    checked = 0
    for obj in callables:
        if inspect.isclass(obj) and obj is Posterior:
            continue  # built by fit and load_posterior, not by users
        target = obj
        if inspect.isclass(obj):
            fields = [f.name for f in dataclasses.fields(obj) if f.init] if dataclasses.is_dataclass(obj) else None
            parameters = fields if fields is not None else list(inspect.signature(obj).parameters)
        else:
            parameters = [p for p in inspect.signature(obj).parameters if p != "self"]
        missing = set(parameters) - documented(target)
        assert not missing, f"{obj.__qualname__}: arguments not listed: {sorted(missing)}"
        checked += 1
    assert checked >= 8


def test_every_test_the_docs_name_exists():
    """The docs point readers at tests (``tests/test_x.py::test_y`` or ``test_x.py::test_y``):
    each must still be there under that file and name."""
    import re

    named = set()
    for page in [ROOT / "README.md", *ROOT.glob("docs/**/*.md")]:
        named |= {(page.name, *ref) for ref in re.findall(r"(test_\w+\.py)::(test_\w+)", page.read_text())}
    assert named, "no doc names a test: the pattern is out of date"
    missing = [
        f"{page}: {file}::{name}"
        for page, file, name in sorted(named)
        if not re.search(
            rf"^def {name}\(", (ROOT / "tests" / file).read_text() if (ROOT / "tests" / file).is_file() else "", re.M
        )
    ]
    assert missing == []
