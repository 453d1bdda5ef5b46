"""A job whose Snakemake process is gone stops itself.

``kill -9`` of Snakemake alone (an out-of-memory kill, a closed terminal's SIGKILL) leaves its
running jobs alive: they are other processes, and nothing tells them.  They would go on writing
their outputs while a rerun (after ``snakemake --unlock``) starts the same jobs beside them.
Every job therefore watches the Snakemake process that started it (the nearest ancestor whose
command is ``snakemake``, read from Linux's ``/proc``) and, once it is gone, interrupts itself:
SIGUSR1 to the job's main thread ends a blocking call, and its handler raises :class:`Orphaned`,
which unwinds the job's atomic writes (a half-written output never takes its final name, its
temporary is removed); a job that does not unwind within ``grace`` seconds exits.  (Not SIGINT:
a job started from a non-interactive shell's background inherits SIGINT ignored.)
Without ``/proc``, or without a Snakemake ancestor (``lwflow fit``, a job called from Python),
nothing is watched.  On SLURM the ancestor is the ``snakemake`` step on the node, which lives
as long as the job; cancel a cluster run's jobs with ``scancel`` before a rerun.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import cast

PROC = Path("/proc")


def _process(pid: int) -> tuple[list[str], str, int] | None:
    """A live process's command line, state letter and parent pid; None where it is gone."""
    try:
        argv = (PROC / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return argv, fields[0], int(fields[1])


def snakemake_ancestor(pid: int | None = None) -> int | None:
    """The nearest ancestor of ``pid`` (default: this process) that runs Snakemake
    (``snakemake ...`` or ``python -m snakemake ...``), or None."""
    current = _process(pid or os.getpid())
    while current is not None and current[2] > 1:
        parent = current[2]
        current = _process(parent)
        if current is not None and any(Path(word).name == "snakemake" for word in current[0][:3]):
            return parent
    return None


def is_gone(pid: int) -> bool:
    """Exited: no longer in ``/proc``, or a zombie that its parent has not reaped yet."""
    process = _process(pid)
    return process is None or process[1] in ("Z", "X")


class Orphaned(BaseException):
    """Raised in a job whose Snakemake process is gone; a BaseException, so that no
    ``except Exception`` of the job's own code swallows it."""


def _raise_orphaned(signum: int, frame: object) -> None:
    raise Orphaned("the Snakemake process that started this job is gone")


def stop_when_orphaned(interval: float = 1.0, grace: float = 10.0) -> int | None:
    """Watch this job's Snakemake process from a daemon thread; returns its pid (None: nothing
    watched).  Call it from the main thread: it installs the handler of SIGUSR1."""
    ancestor = snakemake_ancestor() if PROC.is_dir() else None
    if ancestor is None:
        return None
    signal.signal(signal.SIGUSR1, _raise_orphaned)

    def watch() -> None:
        while not is_gone(ancestor):
            time.sleep(interval)
        print(
            f"the Snakemake process that started this job (pid {ancestor}) is gone: stopping, so that a "
            "rerun does not race this job; its outputs are not written",
            file=sys.stderr,
            flush=True,
        )
        signal.pthread_kill(cast(int, threading.main_thread().ident), signal.SIGUSR1)  # ends a blocking call too
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="stop-when-orphaned", daemon=True).start()
    return ancestor
