"""Figures name what they show: parameters on the axes, the model and its base modes in the title."""

import matplotlib

matplotlib.use("Agg")

import numpy as np

from lwflow.artefacts import Provenance, write_json, write_npz
from lwflow.evaluation.figures import pair_figure
from lwflow.stages import jobs


def test_a_pair_plot_names_the_parameters():
    rng = np.random.default_rng(0)
    fig = pair_figure(rng.normal(size=(200, 2)), rng.normal(size=(500, 2)), "exact", "title", ("mass", "spin"))
    labels = {ax.get_xlabel() for ax in fig.axes} | {ax.get_ylabel() for ax in fig.axes}
    assert {"mass", "spin"} <= labels


def test_model_diagnostics_titles_the_plot_with_the_chosen_base_modes(tmp_path, monkeypatch):
    captured = {}
    monkeypatch.setattr(
        "lwflow.evaluation.figures.save_figure", lambda fig, paths, provenance: captured.update(fig=fig)
    )
    spec = {"kind": "gaussian_mixture", "bounds": [-5, 5], "means": [[-2, 0], [2, 0]], "covariances": [np.eye(2)] * 2}
    provenance = Provenance("test", [], {})
    rng = np.random.default_rng(1)
    write_npz(tmp_path / "samples.npz", {"samples": rng.normal(size=(300, 2))}, provenance)
    write_npz(tmp_path / "truth.npz", {"samples": rng.normal(size=(300, 2))}, provenance)
    write_json(tmp_path / "modes.json", {"rule": "auto", "n_modes": 2}, provenance)
    jobs.model_diagnostics(
        "gm", spec, "gm, realnvp_Kauto", tmp_path / "samples.npz", tmp_path / "modes.json",
        {"reference": tmp_path / "truth.npz"}, 0, tmp_path / "plot.png", provenance,
    )  # fmt: skip
    assert captured["fig"]._suptitle.get_text() == "gm, realnvp_Kauto: K = 2 base modes"
    assert "theta_1" in {ax.get_xlabel() for ax in captured["fig"].axes}
