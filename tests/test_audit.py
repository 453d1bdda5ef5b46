"""The audit finds missing sidecars, tampered artefacts and stale ones."""

import os

import numpy as np
import pytest

from lwflow.artefacts import Provenance, write_npz
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
    assert any("older than its input" in p for p in problems)


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
