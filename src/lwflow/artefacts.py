"""Reading and writing artefacts, each written atomically with a JSON provenance sidecar.

Every artefact ``X`` gets ``X.json`` beside it: the producing step, its config slice,
seed, package versions, lwflow's own version and commit, the machine, start/end time, and the sha256 of its inputs and
of itself.  Files are written to a temporary name and renamed into place, so a killed
job never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:  # pandas costs a job 0.45 s to import: the jobs that write no table skip it
    import pandas as pd

TRACKED_PACKAGES = ("lwflow", "torch", "normflows", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder; rename it to ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    try:
        os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def first_changed_row(then: np.ndarray, now: np.ndarray) -> int | None:
    """The first row where ``now`` differs from ``then`` by more than float noise (relative
    1e-9; equal infinities are equal), None where none does: a value recomputed from the same
    function and inputs must agree with the one recorded."""
    changed = np.flatnonzero(~np.isclose(now, then, rtol=1e-9, atol=1e-12))
    return int(changed[0]) if len(changed) else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@lru_cache(maxsize=1)
def lwflow_commit() -> str:
    """The git commit of lwflow's own source (``+dirty`` with uncommitted changes), whatever
    the working directory is; ``unknown`` for an installed copy outside a repository."""
    source = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True,
            text=True,
        )
        return head + ("+dirty" if status.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@lru_cache(maxsize=1)
def machine_description() -> str:
    """The machine a job ran on, for sidecars and results pages: architecture, usable CPUs,
    operating system and host name."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()}, {cpus} CPUs, {platform.system()} {platform.release()}, host {platform.node()}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Provenance:
    """Who made an artefact from what; written as the artefact's sidecar."""

    step: str
    inputs: list[str]
    config: dict[str, Any]
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=_now)
    input_hashes: dict[str, str] | None = None  # computed once when the job starts (verified_inputs)

    def sidecar(self, artefact: Path) -> dict[str, Any]:
        known = self.input_hashes or {}
        inputs = {str(p): known.get(str(p)) or sha256(Path(p)) for p in self.inputs}
        return {
            "artefact": str(artefact),
            "sha256": sha256(artefact),
            "step": self.step,
            "seed": self.seed,
            "config": self.config,
            "inputs": inputs,
            "started": self.started,
            "finished": _now(),
            "lwflow": {"version": package_versions()["lwflow"], "commit": lwflow_commit()},
            "machine": machine_description(),
            "packages": package_versions(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            **self.extra,
        }


class TamperedInputError(ValueError):
    """An input whose content no longer matches the sha256 its own sidecar recorded."""


SIDECAR_DIGEST = "sidecar_sha256"


def sidecar_digest(record: dict[str, Any]) -> str:
    """The sha256 of a sidecar's canonical JSON (sorted keys) without its own digest: a sidecar
    edited after it was written (a config value, a time) no longer matches it."""
    body = {key: value for key, value in record.items() if key != SIDECAR_DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=jsonable).encode()).hexdigest()


def read_sidecar(sidecar: Path) -> dict[str, Any]:
    """A sidecar's record, refused (:class:`TamperedInputError`, naming the file) where it is not
    a JSON object or no longer matches its own digest."""
    try:
        record = json.loads(Path(sidecar).read_text())
    except ValueError as error:
        raise TamperedInputError(f"sidecar {sidecar} is not valid JSON ({error}), so it is not trusted") from None
    if not isinstance(record, dict):
        raise TamperedInputError(
            f"sidecar {sidecar} holds a {type(record).__name__}, not a record, so it is not trusted"
        )
    if record.get(SIDECAR_DIGEST, sidecar_digest(record)) != sidecar_digest(record):
        raise TamperedInputError(
            f"sidecar {sidecar} was edited after it was written (its own digest no longer matches)"
        )
    return record


def verified_inputs(paths: list[str]) -> dict[str, str]:
    """The sha256 of each input, checked first against the input's own sidecar where it has one:
    an artefact changed after it was made (an edit, a flipped byte), or with an edited or
    malformed sidecar, is refused before any job uses it, naming the file and the rule that
    makes it."""
    hashes = {}
    for path in map(str, paths):
        digest = sha256(Path(path))
        sidecar = sidecar_path(Path(path))
        if sidecar.is_file():
            recorded = read_sidecar(sidecar)
            if recorded.get("sha256") not in (None, digest):
                rule = recorded.get("step", "the rule that makes it")
                raise TamperedInputError(
                    f"input {path} was changed after it was made: its sha256 {digest[:12]}... is not the "
                    f"{recorded['sha256'][:12]}... that {sidecar} recorded, so it is not trusted; restore it, or "
                    f"make it again (snakemake --forcerun {rule})"
                )
        hashes[path] = digest
    return hashes


def read_verified(path: str | Path) -> Path:
    """``path`` checked against its sidecar (:func:`verified_inputs`) where the workflow decides
    from it while the DAG is built; refused naming the command that remakes only it."""
    try:
        verified_inputs([str(path)])
    except TamperedInputError as error:
        raise TamperedInputError(f"{error}; or remake only it: snakemake --cores 1 --force {path}") from None
    return Path(path)


def read_verified_json(path: str | Path) -> Any:
    """A JSON artefact read after :func:`read_verified`, naming the command that remakes it."""
    read_verified(path)
    try:
        return read_json(Path(path))
    except (OSError, ValueError) as error:
        raise TamperedInputError(
            f"{path} cannot be read as JSON ({error}); remake it with: snakemake --cores 1 --force {path}"
        ) from None


def sidecar_path(artefact: Path) -> Path:
    return Path(f"{artefact}.json")


def write_sidecar(artefact: Path, provenance: Provenance) -> None:
    record = provenance.sidecar(Path(artefact))
    _dump_json(sidecar_path(artefact), record | {SIDECAR_DIGEST: sidecar_digest(record)})


def _dump_json(path: Path, payload: Any) -> None:
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=jsonable) + "\n")


def jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_json(path: Path, payload: Any, provenance: Provenance) -> None:
    _dump_json(Path(path), payload)
    write_sidecar(Path(path), provenance)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def write_npz(path: Path, arrays: dict[str, np.ndarray], provenance: Provenance) -> None:
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **cast(dict[str, Any], arrays))  # numpy's stub reads ** as allow_pickle
    write_sidecar(Path(path), provenance)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def write_csv(path: Path, frame: pd.DataFrame, provenance: Provenance) -> None:
    with atomic_path(Path(path)) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    write_sidecar(Path(path), provenance)


def write_text(path: Path, text: str, provenance: Provenance) -> None:
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text)
    write_sidecar(Path(path), provenance)


def lwflow_version() -> str:
    """The installed lwflow's version (``unknown`` when run from a source tree not installed)."""
    from importlib import metadata

    try:
        return metadata.version("lwflow")
    except metadata.PackageNotFoundError:
        return "unknown"
