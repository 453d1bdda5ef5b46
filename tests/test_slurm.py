"""The SLURM profile against a real, single-node SLURM started on this machine.

Installs Debian's slurmctld, slurmd, slurm-client and munge if they are missing, writes
/etc/slurm/slurm.conf for this node (the jobstep plugin drops SLURM_CONF, so the file must
be there), starts munged, slurmctld and slurmd, runs a small workflow with 4 seeds through
``--profile profiles/slurm`` and tears everything down by PID whatever happens.  Without
slurmdbd ``sacct`` fails, so the run uses ``--slurm-status-command squeue`` and the
controller keeps finished jobs visible (``MinJobAge``).
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from workflow_runs import ROOT, processes, run_snakemake, smoke_config, workflow_copy

SLURM_CONF = Path("/etc/slurm/slurm.conf")
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
PORTS = (6817, 6818)


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _install_if_missing() -> None:
    if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("SLURM is not installed and this test needs root and apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=True, env=env, capture_output=True)


def _slurm_conf(state: Path) -> str:
    host = socket.gethostname().split(".")[0]
    memory_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    return f"""\
ClusterName=lwflowtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/d
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=3600
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName={host} CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _wait_for_idle_node(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout.split()
        if state and all(s == "idle" for s in state):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the SLURM node did not become idle within {timeout} s (sinfo: {state})")


def _stop_everything(base: Path, daemons: list[subprocess.Popen]) -> dict[int, str]:
    """Cancel every job, kill every process of this session's test folders (Snakemake clients,
    job scripts, srun steps), stop the daemons, then kill what survived; returns what still
    ran after all that (nothing, for the test to pass)."""
    subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        queued = subprocess.run(["squeue", "-h"], capture_output=True, text=True, timeout=30).stdout.strip()
        if not queued:
            break
        time.sleep(0.5)
    needles = (str(base), "slurmstepd", "munged", "slurmctld", "slurmd")
    for pid in processes(str(base)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for daemon in reversed(daemons):
        daemon.terminate()
    for daemon in reversed(daemons):
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    deadline = time.monotonic() + 10
    while processes(*needles) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes(*needles)
    for pid in left:  # so that even a failing test leaves nothing running
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd/munged needs root")
    _install_if_missing()
    taken = [port for port in PORTS if _port_taken(port)]
    if taken:
        pytest.fail(f"ports {taken} are taken: another SLURM runs here; stop it before running this test")
    state = tmp_path_factory.mktemp("slurm")
    for sub in ("ctld", "d"):
        (state / sub).mkdir()
    backup = SLURM_CONF.read_bytes() if SLURM_CONF.exists() else None
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(_slurm_conf(state))
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    daemons = []
    try:
        daemons.append(subprocess.Popen(["runuser", "-u", "munge", "--", "munged", "-F"], stderr=subprocess.DEVNULL))
        time.sleep(1)
        daemons.append(subprocess.Popen(["slurmctld", "-D", "-i"], stderr=subprocess.DEVNULL))
        daemons.append(subprocess.Popen(["slurmd", "-D"], stderr=subprocess.DEVNULL))
        _wait_for_idle_node()
        yield state
    finally:
        left = _stop_everything(tmp_path_factory.getbasetemp(), daemons)
        if backup is None:
            SLURM_CONF.unlink(missing_ok=True)
        else:
            SLURM_CONF.write_bytes(backup)
    assert not left, f"the SLURM tests left processes behind: {left}"


PRIOR_CHAIN = ("sample_prior", "evaluate_likelihood", "gather_likelihood", "clip_weights", "train_flow")
ROUND_CHAIN = ("propose_round", "evaluate_round_likelihood", "gather_round_likelihood")


def slurm_config(seeds: list[int]) -> dict:
    """The smoke config cut to one problem and one architecture, likelihood in 2 chunks."""
    config = smoke_config()
    config["seeds"] = seeds
    config["problems"] = {"gmm2d_2mode": {**config["problems"]["gmm2d_2mode"], "likelihood_chunks": 2}}
    config["experiments"] = [{"problems": ["gmm2d_2mode"], "archs": ["realnvp"], "modes": [2]}]
    config["outputs"] = {"paper_a": False, "paper_b": False, "auto_modes": False, "figure_seed": seeds[0]}
    return config


def run_on_slurm(workdir: Path, *arguments: str, chain: tuple[str, ...] = PRIOR_CHAIN) -> subprocess.CompletedProcess:
    """The shipped profile, overridden where this one-node test cluster differs: no accounting
    database (squeue for status, no account), one CPU per job.  Each seed's chain (draws,
    likelihood chunks, weights, training) goes as one group job: the plugin polls SLURM at
    growing intervals (+10 s after every poll that finds nothing finished), so the run time
    is set by the number of submission rounds, not by the work."""
    return run_snakemake(
        workdir,
        *arguments,
        "--profile",
        str(workdir / "profiles" / "slurm"),
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--groups",
        *[f"{rule}=chain" for rule in chain],
        "--group-components",
        "chain=1",
        "--set-resources",
        "train_flow:cpus_per_task=1",
        "train_round:cpus_per_task=1",
        "--set-threads",
        "train_flow=1",
        "train_round=1",
        "--cores",
        "1",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--seconds-between-status-checks",
        "2",
        "--latency-wait",
        "5",
        "--retries",
        "0",
        "--jobs",
        "8",
        timeout=600,
        slurm=True,
    )


FAILING_MODEL = """\
from lwflow.problems import Problem, UniformBox
def log_likelihood(theta):
    raise RuntimeError('deliberate failure')
problem = Problem('failing', UniformBox([-1, -1], [1, 1]), log_likelihood)
"""


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One cluster run: 2 seeds of a good problem and, beside them, a user problem whose
    likelihood raises; ``--keep-going`` lets the good chains finish after the failure."""
    config = slurm_config([0, 1])
    config["problems"]["failing"] = {"kind": "user", "target": "failing_model:problem", "n_prior_samples": 1000}
    config["experiments"].append({"problems": ["failing"], "archs": ["realnvp"], "modes": [1], "seeds": [0]})
    workdir = workflow_copy(tmp_path_factory.mktemp("slurm_run"), config)
    (workdir / "failing_model.py").write_text(FAILING_MODEL)
    models = [f"results/models/likelihood/gmm2d_2mode/realnvp_K2/seed{seed}/model.pt" for seed in range(2)]
    models.append("results/models/likelihood/failing/realnvp_K1/seed0/model.pt")
    return workdir, run_on_slurm(workdir, "--keep-going", *models)  # the DAG up to the trained models


def test_every_training_job_runs_as_a_slurm_job(slurm_run):
    workdir, _ = slurm_run
    sidecars = sorted(workdir.glob("results/models/likelihood/gmm2d_2mode/realnvp_K2/seed*/model.pt.json"))
    assert len(sidecars) == 2
    job_ids = [json.loads(path.read_text())["slurm_job_id"] for path in sidecars]
    assert all(job_id and job_id.isdigit() for job_id in job_ids), job_ids
    assert len(set(job_ids)) == 2  # one SLURM job per training
    assert sorted(workdir.glob("results/likelihood/gmm2d_2mode/seed0/chunk*.npz"))[-1].name == "chunk1.npz"
    assert any((workdir / "results/logs/slurm").rglob("*.log"))  # the SLURM logs are kept


def test_a_failing_slurm_job_makes_snakemake_fail(slurm_run):
    workdir, result = slurm_run
    assert result.returncode != 0
    assert "evaluate_likelihood" in result.stderr
    assert not (workdir / "results/likelihood/failing/seed0/chunk0.npz").exists()
    assert not (workdir / "results/models/likelihood/failing").exists()


def test_the_profile_documents_every_key():
    """Every top-level key of the shipped profile carries a comment on its line or just above."""
    lines = (ROOT / "profiles" / "slurm" / "config.yaml").read_text().splitlines()
    for key in yaml.safe_load("\n".join(lines)):
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
        assert "#" in lines[index] or lines[index - 1].startswith("#"), f"profile key {key!r} has no comment"


def test_the_workflow_profile_leaves_the_slurm_profile_s_keys_alone():
    """Snakemake reads profiles/default (the workflow profile) after ``--profile profiles/slurm``
    and lets it win, so a key both set would replace the SLURM profile's value on the cluster
    (``latency-wait: 5`` did its 60); the parsed command line keeps the SLURM profile's values."""
    from snakemake.cli import parse_args

    local = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    cluster = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert not {key for key in local.keys() & cluster.keys() if local[key] != cluster[key]}
    with contextlib.chdir(ROOT):
        _, args = parse_args(["--profile", "profiles/slurm", "--dry-run"])
    assert args.latency_wait == cluster["latency-wait"] and args.jobs == cluster["jobs"]


@pytest.mark.slow
def test_adaptive_rounds_run_their_likelihood_chunks_as_slurm_jobs(slurm_cluster, tmp_path):
    """Every round's draws and likelihood chunks (one group job per round), its weights
    (the checkpoint) and its flow run on SLURM; the rounds stop where they do locally."""
    config = slurm_config([0])
    config["experiments"] = [
        {**config["experiments"][0], "proposal": "adaptive", "adaptive": {"n_per_round": 1000, "max_calls": 3000}}
    ]
    workdir = workflow_copy(tmp_path, config)
    target = "results/models/adaptive/gmm2d_2mode/realnvp_K2/seed0/model.pt"
    result = run_on_slurm(workdir, target, chain=ROUND_CHAIN)
    assert result.returncode == 0, result.stderr[-4000:]
    rounds = sorted((workdir / "results/rounds/gmm2d_2mode/realnvp_K2/seed0").glob("round*"))
    assert len(rounds) == 3  # 3 x 1000 calls: the budget
    sidecars = [path / name for path in rounds for name in ("likelihood/chunk0.npz.json", "likelihood/chunk1.npz.json")]
    sidecars += [path / "report.json.json" for path in rounds] + [workdir / f"{target}.json"]
    job_ids = [json.loads(path.read_text())["slurm_job_id"] for path in sidecars]
    assert all(job_id and job_id.isdigit() for job_id in job_ids), job_ids
