"""A job whose Snakemake process is killed stops itself and writes nothing (lwflow.stages.orphans)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lwflow.stages.orphans import is_gone, snakemake_ancestor

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="watches processes through Linux's /proc")

JOB = """
import time
from pathlib import Path
from lwflow.artefacts import atomic_path
from lwflow.stages.orphans import stop_when_orphaned

watched = stop_when_orphaned(interval=0.2)
with atomic_path(Path("{out}")) as tmp:
    tmp.write_text("half an output")
    Path("{out}.watched").write_text(str(watched))  # mid-write: the test kills Snakemake now
    time.sleep(60)
"""

# a stand-in for Snakemake: a program named ``snakemake`` that starts one job through a shell, as
# Snakemake's script directive does, and waits for it
PARENT = """
import subprocess, sys
subprocess.run(["/bin/sh", "-c", f"{sys.executable} {sys.argv[1]}"])
"""


def test_a_job_stops_once_its_snakemake_is_killed_and_writes_nothing(tmp_path):
    out = tmp_path / "model.pt"
    (tmp_path / "job.py").write_text(JOB.format(out=out))
    (tmp_path / "snakemake").write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "snakemake"), str(tmp_path / "job.py")])
    deadline = time.time() + 30
    while not (tmp_path / "model.pt.watched").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "model.pt.watched").read_text() == str(parent.pid)  # the job found its Snakemake
    job = next(int(p.parent.name) for p in Path("/proc").glob("[0-9]*/cmdline") if _runs(p, tmp_path / "job.py"))
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 15
    while not is_gone(job) and time.time() < deadline:
        time.sleep(0.1)
    stopped = is_gone(job)
    if not stopped:
        os.kill(job, signal.SIGKILL)
    assert stopped, "the job outlived its Snakemake"
    assert not out.exists() and list(tmp_path.glob(".model.pt.*")) == []  # no output, no temporary left


def _runs(cmdline: Path, script: Path) -> bool:
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return argv[1:2] == [str(script).encode()]  # python job.py, not the shell or the stand-in


def test_a_process_without_a_snakemake_ancestor_is_not_watched():
    assert snakemake_ancestor() is None  # pytest, not Snakemake, started this process
