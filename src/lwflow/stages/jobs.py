"""What every workflow job shares: its context (provenance, threads, its log, stopping when its
Snakemake is gone) and the readers that several stages use.

One module per rule file holds the stages themselves, each a function that reads artefacts,
calls the library and writes artefacts: :mod:`lwflow.stages.data`, :mod:`~lwflow.stages.rounds`,
:mod:`~lwflow.stages.train`, :mod:`~lwflow.stages.evaluate`, :mod:`~lwflow.stages.summary` and
:mod:`~lwflow.stages.report`.  Every rule runs its stage through :mod:`lwflow.stages.runner`,
which only hands it the job's inputs, outputs and settings, so every stage can also be run from
Python without Snakemake.
``job_context`` accepts any object with Snakemake's job attributes (``rule, input, output,
params, wildcards, log, threads``); the library never imports Snakemake.

Random streams are derived from the seed alone, one per stage, so the same seed gives
the same artefact: :data:`lwflow.streams.STREAMS` names them.

Modules that take long to import (torch, the flows, the problems and scipy.stats behind
them, the metrics with POT) are imported inside the stages that use them: every job is
its own process, and a training job that imports only what it uses starts 0.6 s sooner.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lwflow.artefacts import (
    Provenance,
    read_sidecar,
    sidecar_path,
    verified_inputs,
)
from lwflow.stages.orphans import stop_when_orphaned

__all__ = ["job_context", "model_check", "truth_of"]


@contextlib.contextmanager
def job_context(job: Any) -> Iterator[Provenance]:
    """Send output to the job's log, set torch threads from ``job.threads``, check every input
    against its own sidecar (:func:`lwflow.artefacts.verified_inputs`), yield provenance; a job
    whose Snakemake process dies stops itself (:mod:`lwflow.stages.orphans`).

    The objects that exist on entry (torch's modules: about 200 000) and on a clean exit are
    moved out of the garbage collector's reach (``gc.freeze``): a job is one short process, and
    the interpreter's collections at shutdown otherwise walk all of them (0.4-0.6 s per torch job).

    POT (W2, :func:`lwflow.evaluation.metrics.wasserstein2`, on numpy arrays) is told not to load
    its torch backend, whose import imports torch: a ``truth_reference`` job, which needs no
    torch otherwise, then takes 2.9 CPU-s and 191 MiB instead of 5.3 CPU-s and 374 MiB
    (farm-bench, medians of 5).  Only a job's own process is told so; the library leaves POT
    as a user imports it.
    """
    os.environ.setdefault("POT_BACKEND_DISABLE_PYTORCH", "1")
    gc.freeze()
    stop_when_orphaned()
    log_path = Path(job.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(int(job.threads))
        seed = getattr(job.wildcards, "seed", None)
        try:
            provenance = Provenance(
                step=job.rule,
                inputs=[str(p) for p in job.input],
                config=dict(getattr(job.params, "config_slice", {})),
                seed=int(seed) if seed is not None else None,
                input_hashes=verified_inputs(list(job.input)),
            )
            yield provenance
        except Exception as error:
            print(f"{type(error).__name__}: {error}", file=log)
            raise
    gc.freeze()


def model_check(samples: Path) -> dict[str, Any]:
    """A model's check (:mod:`lwflow.fitting.verdict`), from the sidecar of its samples."""
    return dict(read_sidecar(sidecar_path(samples)).get("check") or {})


def truth_of(name: str, spec: dict[str, Any]) -> Any:
    from lwflow.problems import problem_from_spec

    truth = problem_from_spec(name, spec).truth
    if truth is None:
        raise ValueError(f"problem {name!r} has no exact sampler; it can only be trained with fit: likelihood")
    return truth
