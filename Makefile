# The two commands of the README's quick start.
#   make reproduce : set up .venv and run the default workflow (snakemake --cores 8)
#   make test      : set up .venv and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/snakemake: pyproject.toml envs/requirements.txt envs/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r envs/requirements.txt -c envs/constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

.PHONY: setup reproduce test lint
setup: $(BIN)/snakemake

reproduce: setup
	$(BIN)/snakemake --cores 8

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests workflow benchmarks docs
	$(BIN)/ruff format --check src tests workflow benchmarks docs
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint --configfile tests/config/smoke.yaml
