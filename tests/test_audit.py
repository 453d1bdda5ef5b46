"""The audit finds missing sidecars, tampered artefacts and stale ones."""

import json
import os

import numpy as np
import pytest

from lwflow.artefacts import (
    SIDECAR_DIGEST,
    Provenance,
    TamperedInputError,
    sha256,
    sidecar_digest,
    verified_inputs,
    write_npz,
)
from lwflow.audit import audit_tree, main


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """results/a.npz (no inputs) and results/b.npz made from it, paths relative to tmp_path."""
    monkeypatch.chdir(tmp_path)
    write_npz("results/a.npz", {"x": np.arange(3)}, Provenance("make_a", inputs=[], config={}))
    write_npz("results/b.npz", {"y": np.arange(4)}, Provenance("make_b", inputs=["results/a.npz"], config={}))
    return tmp_path / "results"


def test_a_consistent_tree_passes(tree, capsys):
    assert audit_tree(tree) == []
    assert main([str(tree)]) == 0
    assert "2 artefacts checked, 0 problems" in capsys.readouterr().out


def test_a_tampered_artefact_is_found(tree):
    with open(tree / "b.npz", "ab") as handle:
        handle.write(b"tampered")
    findings = audit_tree(tree)
    assert [(f.path.name, "does not match" in f.problem) for f in findings] == [("b.npz", True)]
    assert main([str(tree)]) == 1


def test_a_changed_input_makes_its_products_stale(tree):
    write_npz("results/a.npz", {"x": np.arange(5)}, Provenance("make_a", inputs=[], config={}))
    later = (tree / "b.npz").stat().st_mtime + 10
    os.utime(tree / "a.npz", (later, later))
    problems = [f.problem for f in audit_tree(tree)]
    assert any("changed since" in p for p in problems)


def test_an_input_remade_with_the_same_bytes_is_not_stale(tree):
    later = (tree / "b.npz").stat().st_mtime + 10
    os.utime(tree / "a.npz", (later, later))  # as `snakemake --force` remaking it identical leaves it
    assert audit_tree(tree) == []


def test_a_missing_sidecar_is_found(tree):
    (tree / "a.npz.json").unlink()
    assert [f.problem for f in audit_tree(tree)] == ["missing sidecar"]


def test_staleness_propagates_to_everything_made_from_a_changed_artefact(tree):
    write_npz("results/c.npz", {"z": np.arange(2)}, Provenance("make_c", inputs=["results/b.npz"], config={}))
    with open(tree / "a.npz", "ab") as handle:
        handle.write(b"edited")
    stale = {f.path.name: f.problem for f in audit_tree(tree) if f.problem.startswith("stale:")}
    assert stale == {"c.npz": "stale: made from results/b.npz, which is stale or modified"}  # b's own finding is direct


def test_an_orphan_sidecar_is_reported_as_an_orphan(tree):
    (tree / "b.npz").unlink()
    assert [(f.path.name, f.problem) for f in audit_tree(tree)] == [
        ("b.npz", "orphan sidecar: the artefact it describes is missing")
    ]


def test_an_edited_sidecar_is_found(tree):
    sidecar = tree / "a.npz.json"
    record = json.loads(sidecar.read_text())
    record["config"] = {"n_prior_samples": 9000}
    sidecar.write_text(json.dumps(record))
    assert [(f.path.name, f.problem) for f in audit_tree(tree)] == [
        ("a.npz", "sidecar was edited after it was written (its own digest does not match)"),
        ("b.npz", "stale: made from results/a.npz, which is stale or modified"),
    ]


@pytest.mark.parametrize("content", ["{not json", "[]", '{"sha256": 1, "inputs": 5}'])
def test_a_malformed_sidecar_is_named_and_the_audit_goes_on(tree, content, capsys):
    (tree / "a.npz.json").write_text(content)
    findings = audit_tree(tree)
    assert findings and all(f.path.name == "a.npz" or f.problem.startswith("stale: made from") for f in findings)
    assert main([str(tree)]) == 1
    assert "a.npz" in capsys.readouterr().out


@pytest.mark.parametrize("target", ["/proc/self/environ", "../outside.txt", "/dev/zero"])
def test_inputs_outside_the_tree_or_not_regular_files_are_reported_not_read(tree, target, monkeypatch):
    (tree.parent.parent / "outside.txt").write_text("secret")
    sidecar = tree / "b.npz.json"
    record = json.loads(sidecar.read_text())
    record["inputs"] = {target: "0" * 64}
    record[SIDECAR_DIGEST] = sidecar_digest(record)
    sidecar.write_text(json.dumps(record))

    def refuse(path):
        raise AssertionError(f"the audit read {path}")

    monkeypatch.setattr(
        "lwflow.audit.sha256",
        lambda path: refuse(path) if "b.npz" not in str(path) and "a.npz" not in str(path) else sha256(path),
    )
    problems = [f.problem for f in audit_tree(tree) if f.path.name == "b.npz"]
    assert len(problems) == 1 and problems[0].startswith(f"input {target} ") and "not read" in problems[0]


def test_a_link_out_of_the_tree_is_reported_not_read(tree):
    (tree / "c.npz").symlink_to("/dev/zero")
    (tree / "d.npz").symlink_to("/proc/self/environ")
    for name in ("c.npz", "d.npz"):
        (tree / f"{name}.json").write_text((tree / "a.npz.json").read_text())
    found = {f.path.name: f.problem for f in audit_tree(tree)}
    assert "lies outside" in found["c.npz"] and "lies outside" in found["d.npz"]


@pytest.mark.parametrize("content", ["{not json", "[]", None])
def test_a_job_refuses_an_input_whose_sidecar_is_malformed_or_edited(tree, content):
    sidecar = tree / "a.npz.json"
    if content is None:
        record = json.loads(sidecar.read_text())
        sidecar.write_text(json.dumps(record | {"started": "2020-01-01T00:00:00+00:00"}))
    else:
        sidecar.write_text(content)
    with pytest.raises(TamperedInputError, match=f"sidecar {sidecar} .*not trusted|sidecar {sidecar} was edited"):
        verified_inputs([str(tree / "a.npz")])
