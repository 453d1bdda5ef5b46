"""Helpers of the workflow tests: a copy of the workflow with a config, Snakemake run in its own
process group, the pace of the machine, one run shared by several tests, and a run killed and
resumed."""

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]


SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def workflow_copy(tmp_path: Path, config: dict) -> Path:
    """The workflow in a temporary directory with ``config`` as its config.yaml."""
    for name in ("Snakefile", "workflow", "profiles", "envs"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def smoke_config() -> dict:
    return yaml.safe_load((ROOT / "tests" / "config" / "smoke.yaml").read_text())


def snakemake_env(workdir: Path, slurm: bool = False) -> dict[str, str]:
    """Environment of a test run: user problems live beside the config (and the jobs import the
    lwflow that the tests import, when PYTHONPATH points at a checkout).  Local runs point
    ``SLURM_CONF`` at an empty file: the SLURM plugin runs ``scontrol show config`` when it is
    imported, which waits 9-60 s for a controller whenever slurm-client is installed (as the
    SLURM test leaves it) but no controller runs; with an empty config it fails at once."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(workdir), os.environ.get("PYTHONPATH")]))}
    if not slurm:
        empty = workdir / ".empty-slurm.conf"
        empty.touch()
        env["SLURM_CONF"] = str(empty)
    return env


def run_snakemake(workdir: Path, *args: str, timeout: int = 900, slurm: bool = False) -> subprocess.CompletedProcess:
    """Snakemake in its own process group: a run that outlasts ``timeout`` is killed with every
    process it started, so no test leaves one behind."""
    command = SNAKEMAKE + list(args)
    with subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=snakemake_env(workdir, slurm),
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


TORCH_IMPORT_SECONDS = 1.5  # `import torch` on this project's 2-core machine when it is quiet


@functools.cache
def machine_pace() -> float:
    """How many times slower than when quiet this machine runs now: a fresh ``import torch``
    timed against :data:`TORCH_IMPORT_SECONDS` (each workflow job pays it), at least 1."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return max(1.0, (time.perf_counter() - start) / TORCH_IMPORT_SECONDS)


class FinishedRun:
    """A workflow run that several tests read: it runs once; when it fails (or outlasts 900 s
    times the machine's pace) the first test that needs it fails with Snakemake's message and the
    pace, and the rest skip, naming it, instead of repeating the failure."""

    def __init__(self, workdir: Path, failure: str | None = None) -> None:
        self.workdir, self.failure, self.reported = workdir, failure, False

    @classmethod
    def made(cls, workdir: Path) -> "FinishedRun":
        """Runs the workflow in ``workdir`` (2 cores) and keeps how it ended."""
        # 900 s times the pace: the smoke run's 204 jobs took 865 s beside the other xdist
        # worker's tests on 2026-12-07, when `import torch` took 2.7-3.5 s (a pace of about 2, so a
        # limit of about 1 800 s); the pace, measured once and maybe before, can miss that load
        timeout = round(900 * machine_pace())
        try:
            result = run_snakemake(workdir, "--cores", "2", "--quiet", timeout=timeout)
        except subprocess.TimeoutExpired:
            return cls(workdir, f"the run did not finish in {timeout} s ({machine_pace():.1f} x the quiet pace)")
        failed = f"the run failed (rc {result.returncode}): {result.stderr[-4000:]}"
        return cls(workdir, failed if result.returncode != 0 else None)

    @classmethod
    def shared(cls, tmp_path_factory: pytest.TempPathFactory, name: str, config: dict) -> "FinishedRun":
        """The run of ``config``, made once per test session however many xdist workers read it:
        the first to ask runs it in the session's shared temporary folder under a file lock; the
        others wait on the lock and read how it ended (``<name>.outcome.json``)."""
        session_folder = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's base is popen-gwN in the session's
            session_folder = session_folder.parent
        workdir, outcome = session_folder / name, session_folder / f"{name}.outcome.json"
        with FileLock(session_folder / f"{name}.lock"):
            if not outcome.is_file():
                workdir.mkdir()
                made = cls.made(workflow_copy(workdir, config))
                outcome.write_text(json.dumps({"failure": made.failure}))
        return cls(workdir, json.loads(outcome.read_text())["failure"])

    def get(self) -> Path:
        if self.failure is None:
            return self.workdir
        if self.reported:
            pytest.skip(f"the workflow run this test reads failed in an earlier test of {self.workdir.name}")
        self.reported = True
        pytest.fail(self.failure)


ADAPTIVE_ROUNDS = "results/rounds/gmm2d_2mode/realnvp_K2/seed0"


def round_reports(workdir: Path) -> list[dict]:
    rounds = sorted((workdir / ADAPTIVE_ROUNDS).glob("round*"), key=lambda path: int(path.name[5:]))
    return [json.loads((path / "report.json").read_text()) for path in rounds]


def dry_run_jobs(workdir: Path) -> set[str]:
    result = run_snakemake(workdir, "-n", "--cores", "1", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-3000:]
    return set(re.findall(r"^(\w+)\s+\d+$", result.stdout + result.stderr, re.M)) - {"total", "job"}


def audit(workdir: Path) -> str:
    from lwflow.audit import main

    os.chdir(workdir)
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["results", "--all"])
    return out.getvalue()


def processes(*needles: str) -> dict[int, str]:
    """Processes other than this one whose command line or working directory holds a needle:
    pid -> command line."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if int(entry.name) != os.getpid() and any(n in argv or cwd.startswith(n) for n in needles):
            found[int(entry.name)] = argv or f"(cwd {cwd})"
    return found


def job_processes(workdir: Path) -> list[str]:
    """The command lines of the running jobs of the Snakemake run in ``workdir``."""
    return list(processes(f"{workdir}/.snakemake/scripts").values())


def run_and_kill(workdir: Path, ready) -> dict[Path, int]:
    """Run the workflow and SIGKILL Snakemake alone once ``ready()`` holds: its running jobs must
    stop themselves within seconds (lwflow.stages.orphans).  The artefacts finished by then
    (sidecar written 3 s before the kill), with their mtimes."""
    process = subprocess.Popen(
        SNAKEMAKE + ["--cores", "2", "--quiet"],
        cwd=workdir,
        env=snakemake_env(workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while not ready() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(4)  # let Snakemake record the first jobs as complete
    while not job_processes(workdir) and time.time() < deadline:  # kill while a job runs
        time.sleep(0.05)
    assert job_processes(workdir), "no job was running at the kill"
    os.kill(process.pid, signal.SIGKILL)  # Snakemake alone, as an out-of-memory kill would
    process.wait()
    killed_at = time.time()
    while job_processes(workdir) and time.time() < killed_at + 20:
        time.sleep(0.2)
    outlived = job_processes(workdir)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left, so that no test leaves it behind
    assert not outlived, f"jobs outlived their Snakemake: {outlived}"
    return {
        path: path.stat().st_mtime_ns
        for sidecar in (workdir / "results").rglob("*.json")
        if sidecar.stat().st_mtime < killed_at - 3 and (path := Path(str(sidecar)[: -len(".json")])).is_file()
    }


def resume(workdir: Path, finished: dict[Path, int]) -> None:
    """Rerun after a kill; no finished artefact may be computed again."""
    assert run_snakemake(workdir, "--unlock").returncode == 0  # a hard kill leaves Snakemake's lock behind
    result = run_snakemake(workdir, "--cores", "2", "--quiet")
    assert result.returncode == 0, result.stderr[-4000:]
    recomputed = [str(p) for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime]
    assert recomputed == []


def flip_one_bit(path: Path) -> None:
    """One bit of the middle byte of ``path`` flipped, as a disk or a careless edit might."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def finished_copy(smoke_run: Path, tmp_path: Path) -> Path:
    """A copy of the finished smoke tree (times kept), to damage without touching the fixture's;
    without Snakemake's locks, which a test of the smoke group may hold at that moment."""
    copy = tmp_path / "copy"
    shutil.copytree(smoke_run, copy, symlinks=True, ignore=shutil.ignore_patterns("locks"))
    return copy
