"""The full-reproduction budget: the wall time of one Snakemake run from an empty results
folder, and the per-rule time from Snakemake's ``benchmark:`` files
(``results/benchmarks/<rule>/...tsv``, one per job) in one table.

``jobs``, ``total_s`` (sum of job wall times), ``median_s``, ``max_s``, ``cpu_s`` (sum of
CPU seconds) and ``share`` (of all job seconds) per rule.  With ``c`` cores the run
cannot take less than ``sum(total_s) / c``; the measured wall time beside it shows how
well the scheduler packed the jobs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from benchmarks.timing import timed

ROOT = Path(__file__).resolve().parents[1]


def rule_times(results: Path) -> pd.DataFrame:
    """One row per rule from every ``results/benchmarks/<rule>/**/*.tsv``."""
    records = []
    for tsv in sorted((results / "benchmarks").glob("*/**/*.tsv")):
        rule = tsv.relative_to(results / "benchmarks").parts[0]
        job = pd.read_csv(tsv, sep="\t")
        records.append({"rule": rule, "s": float(job["s"].mean()), "cpu_s": float(job["cpu_time"].mean())})
    if not records:
        raise FileNotFoundError(f"no Snakemake benchmark files under {results / 'benchmarks'}; run the workflow first")
    jobs = pd.DataFrame(records)
    table = jobs.groupby("rule")["s"].agg(jobs="count", total_s="sum", median_s="median", max_s="max")
    table["cpu_s"] = jobs.groupby("rule")["cpu_s"].sum()
    table["share"] = table["total_s"] / table["total_s"].sum()
    return table.sort_values("total_s", ascending=False).reset_index()


def timed_run(workdir: Path, config: Path, cores: int) -> float:
    """Copy the workflow (with its environment files) and ``config`` into an empty ``workdir``, run
    ``snakemake --cores`` there and return its wall seconds (an error if Snakemake fails)."""
    workdir.mkdir(parents=True, exist_ok=False)
    shutil.copy(ROOT / "Snakefile", workdir / "Snakefile")
    shutil.copytree(ROOT / "workflow", workdir / "workflow")
    shutil.copytree(ROOT / "envs", workdir / "envs")  # every rule names envs/lwflow.yaml
    shutil.copy(config, workdir / "config.yaml")
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet"]
    result, seconds = timed(lambda: subprocess.run(command, cwd=workdir, capture_output=True, text=True))
    if result.returncode != 0:
        raise RuntimeError(f"snakemake failed in {workdir}:\n{result.stderr[-3000:]}")
    return seconds
