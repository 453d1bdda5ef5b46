"""Verify a results tree against its provenance sidecars.

Usage::

    python -m lwflow.audit results/

For every artefact (any file that is not itself a sidecar ``*.json`` of another file,
and not a log or benchmark), checks that

* its sidecar ``<artefact>.json`` exists, is a JSON record and still matches its own digest
  (an edited sidecar is found),
* the artefact's sha256 still matches the sidecar,
* each recorded input still exists and still has the recorded sha256 (an input that
  changed since means the artefact is stale),
* (an input remade with the same bytes, newer than the artefact, is not stale: the hashes
  decide, not the times),
* no input is itself stale or modified (staleness propagates: an edited user module or data
  file flags every artefact made from it, down to the posteriors and summaries),
* no sidecar is left without its artefact (an orphan).

Only regular files inside the audited folder are read: an artefact or a recorded input that is
a link out of it, a path that climbs out with ``..``, a device or a FIFO is reported, never opened.

Exit status 0 when the tree is consistent, 1 otherwise, with one line per problem, but stale
artefacts one line per cause (an input that changed, or a modified artefact, with how many
artefacts it makes stale); ``--all`` lists every finding on its own line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from lwflow.artefacts import SIDECAR_DIGEST, sha256, sidecar_digest, sidecar_path

UNTRACKED_FOLDERS = {"logs", "benchmarks"}
MISSING_SIDECAR = "missing sidecar"


@dataclass(frozen=True)
class Finding:
    path: Path
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def _is_orphan_sidecar(path: Path) -> bool:
    """A sidecar record (artefact, sha256, step) whose artefact ``X`` of ``X.json`` is gone."""
    if path.suffix != ".json" or path.with_suffix("").exists():
        return False
    record = _record(path)
    return record is not None and {"artefact", "sha256", "step"} <= set(record)


def artefacts_under(root: Path) -> list[Path]:
    """Files under ``root`` that should carry a sidecar."""
    files = [p for p in root.rglob("*") if (p.is_file() or p.is_symlink()) and not p.name.startswith(".")]
    sidecars = {Path(f"{p}.json") for p in files}
    return sorted(
        p
        for p in files
        if p not in sidecars and not UNTRACKED_FOLDERS & set(p.relative_to(root).parts) and not _is_orphan_sidecar(p)
    )


def orphan_sidecars(root: Path) -> list[Finding]:
    """Sidecars ``X.json`` whose artefact ``X`` is gone."""
    return [
        Finding(p.with_suffix(""), "orphan sidecar: the artefact it describes is missing")
        for p in sorted(root.rglob("*.json"))
        if not UNTRACKED_FOLDERS & set(p.relative_to(root).parts) and _is_orphan_sidecar(p)
    ]


def _record(sidecar: Path) -> dict | None:
    """A sidecar's record; None where it is a link, not a regular file, not JSON or not a record."""
    try:
        if sidecar.is_symlink() or not stat.S_ISREG(sidecar.stat().st_mode):
            return None
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def unreadable(path: Path, inside: Path) -> str | None:
    """Why ``path`` must not be read (None where it may): not inside ``inside`` once links and
    ``..`` are resolved, or not a regular file (a device, a FIFO, a folder)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(inside):
        return f"lies outside {inside} (links or .. resolved); not read"
    try:
        mode = resolved.stat().st_mode
    except OSError:
        return None  # gone: the caller reports it missing
    return None if stat.S_ISREG(mode) else "is not a regular file; not read"


def audit_artefact(artefact: Path, base: Path) -> list[Finding]:
    """Findings for one artefact; input paths in sidecars are relative to ``base``, and only
    regular files inside ``base`` are read."""
    inside = base.resolve()
    sidecar = sidecar_path(artefact)
    if not sidecar.exists():
        return [Finding(artefact, MISSING_SIDECAR)]
    for path, what in ((artefact, "artefact"), (sidecar, "sidecar")):
        if (why := unreadable(path, inside)) is not None:
            return [Finding(artefact, f"{what} {path} {why}")]
    record = _record(sidecar)
    if record is None:
        return [Finding(artefact, f"sidecar {sidecar} is not a JSON record (corrupted)")]
    findings = []
    if SIDECAR_DIGEST not in record:
        findings.append(Finding(artefact, "sidecar carries no digest of itself (edited, or written before lwflow 0.1)"))
    elif record[SIDECAR_DIGEST] != sidecar_digest(record):
        findings.append(Finding(artefact, "sidecar was edited after it was written (its own digest does not match)"))
    if sha256(artefact) != record.get("sha256"):
        findings.append(
            Finding(artefact, "content does not match the sha256 in its sidecar (modified after it was made)")
        )
    inputs = record.get("inputs", {})
    if not isinstance(inputs, dict):
        return [*findings, Finding(artefact, "sidecar's inputs are not a record of path: sha256 (corrupted)")]
    for name, digest in inputs.items():
        source = base / name
        if (why := unreadable(source, inside)) is not None:
            findings.append(Finding(artefact, f"input {name} {why}"))
            continue
        if not source.exists():
            findings.append(Finding(artefact, f"input {name} no longer exists"))
            continue
        if sha256(source) != digest:  # the bytes decide, not the clock: an input remade identical is not stale
            findings.append(Finding(artefact, f"input {name} changed since this artefact was made (stale)"))
    return findings


def _stale_downstream(artefacts: list[Path], findings: list[Finding], base: Path) -> list[Finding]:
    """Artefacts made from a stale or modified artefact are stale too: a changed user module or
    data file flags the prior draws and likelihood directly, and through them every weight,
    model, sample and summary below."""
    inputs_of = {}
    for artefact in artefacts:
        record = _record(sidecar_path(artefact)) if sidecar_path(artefact).exists() else None
        names = (record or {}).get("inputs", {})
        names = names if isinstance(names, dict) else {}
        inputs_of[artefact.resolve()] = (artefact, [(base / n).resolve() for n in names if isinstance(n, str)])
    bad = {f.path.resolve() for f in findings if f.problem != MISSING_SIDECAR}  # unverified, not known changed
    stale: dict[Path, Path] = {}  # resolved artefact -> the stale or modified input it was made from
    changed = True
    while changed:  # one pass per level of the DAG
        changed = False
        for resolved, (_, inputs) in inputs_of.items():
            if resolved in bad or resolved in stale:
                continue
            upstream = next((i for i in inputs if i in bad or i in stale), None)
            if upstream is not None:
                stale[resolved] = upstream
                changed = True
    stale = {inputs_of[resolved][0]: upstream for resolved, upstream in stale.items()}
    return [
        Finding(artefact, f"stale: made from {os.path.relpath(upstream, base)}, which is stale or modified")
        for artefact, upstream in sorted(stale.items())
    ]


def audit_tree(root: Path, base: Path | None = None) -> list[Finding]:
    """Audit every artefact under ``root``; ``base`` (default: parent of ``root``) anchors input paths."""
    root = Path(root)
    base = Path(base) if base is not None else root.resolve().parent
    artefacts = artefacts_under(root)
    direct = [finding for artefact in artefacts for finding in audit_artefact(artefact, base)]
    return direct + _stale_downstream(artefacts, direct, base) + orphan_sidecars(root)


STALE_INPUT = re.compile(r"input (?P<name>.+) changed since this artefact was made \(stale\)")
STALE_BELOW = re.compile(r"stale: made from (?P<name>.+), which is stale or modified")


def grouped(findings: list[Finding], base: Path) -> list[str]:
    """The findings as a reader takes them in: the stale ones one line per cause (an input that
    changed, or a modified artefact), with how many artefacts it makes stale, directly and
    below them, and one of them; every other finding on its own line."""
    direct_cause: dict[str, str] = {}  # artefact (relative to base) -> the cause of its staleness
    for finding in findings:
        match = STALE_INPUT.fullmatch(finding.problem)
        if match:
            direct_cause.setdefault(_relative(finding.path, base), f"{match['name']} changed")
    for finding in findings:
        if not STALE_INPUT.fullmatch(finding.problem) and not STALE_BELOW.fullmatch(finding.problem):
            direct_cause.setdefault(_relative(finding.path, base), f"{_relative(finding.path, base)} was modified")
    made_from = {
        _relative(f.path, base): m["name"] for f in findings if (m := STALE_BELOW.fullmatch(f.problem)) is not None
    }

    def cause_of(artefact: str) -> str:
        seen = set()
        while artefact in made_from and artefact not in seen:  # up the DAG to the first bad artefact
            seen.add(artefact)
            artefact = made_from[artefact]
        return direct_cause.get(artefact, f"{artefact} is stale")

    causes: dict[str, list[Finding]] = {}
    lines = []
    for finding in findings:
        stale_input = STALE_INPUT.fullmatch(finding.problem)
        if stale_input or STALE_BELOW.fullmatch(finding.problem):
            cause = f"{stale_input['name']} changed" if stale_input else cause_of(_relative(finding.path, base))
            causes.setdefault(cause, []).append(finding)
        else:
            lines.append(str(finding))
    for cause, stale in causes.items():
        directly = sum(1 for finding in stale if STALE_INPUT.fullmatch(finding.problem))
        lines.append(
            f"stale because {cause}: {len(stale)} artefacts ({directly} made from it, {len(stale) - directly} "
            f"below them), e.g. {stale[0].path}; rerun the workflow (or lwflow fit) to remake them"
        )
    return lines


def _relative(path: Path, base: Path) -> str:
    return os.path.relpath(Path(path).resolve(), base.resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="results folder to audit, e.g. results/")
    parser.add_argument("--base", type=Path, default=None, help="folder the sidecars' input paths are relative to")
    parser.add_argument("--all", action="store_true", help="one line per finding, stale artefacts included")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"{args.root} is not a folder", file=sys.stderr)
        return 2
    n = len(artefacts_under(args.root))
    if n == 0:
        print(
            f"{args.root} holds no artefacts to check: nothing was verified; "
            "give the results folder of a workflow run or of lwflow fit --out",
            file=sys.stderr,
        )
        return 1
    findings = audit_tree(args.root, args.base)
    base = Path(args.base) if args.base is not None else args.root.resolve().parent
    for line in map(str, findings) if args.all else grouped(findings, base):
        print(line)
    more = "" if args.all or not findings else f" (one line each: lwflow audit --all {args.root})"
    print(f"{n} artefacts checked, {len(findings)} problems found{more}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
