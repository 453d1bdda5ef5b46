"""Figures name what they show: parameters on the axes, the model and its base modes in the title."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

from lwflow.artefacts import Provenance, write_json, write_npz
from lwflow.evaluation.figures import loss_figure, pair_figure
from lwflow.stages import report


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
    report.model_diagnostics(
        "gm", spec, "gm, realnvp_Kauto", tmp_path / "samples.npz", tmp_path / "modes.json",
        {"reference": tmp_path / "truth.npz"}, 0, tmp_path / "plot.png", provenance,
    )  # fmt: skip
    assert captured["fig"]._suptitle.get_text() == "gm, realnvp_Kauto: K = 2 base modes"
    assert "theta_1" in {ax.get_xlabel() for ax in captured["fig"].axes}


def test_pair_plot_axes_stay_inside_the_prior_box_whatever_a_stray_draw_does():
    rng = np.random.default_rng(0)
    samples = np.vstack([rng.normal(size=(300, 2)), [[40.0, -40.0]]])  # one draw far outside the box
    fig = pair_figure(samples, rng.normal(size=(500, 2)), "exact", "t", ("a", "b"), (np.full(2, -5), np.full(2, 5)))
    for ax in fig.axes:
        if ax.axison:
            low, high = ax.get_xlim()
            assert -5 <= low < high <= 5


def test_loss_curves_tell_the_models_by_colour_and_the_seeds_by_line_style():
    frame = pd.DataFrame({"step": [0, 100, 200], "val_loss": [3.0, 2.5, 2.4]})
    fig = loss_figure({"realnvp K=1": {0: frame, 1: frame}, "realnvp K=3": {0: frame, 1: frame}}, "t")
    legends = [child for child in fig.axes[0].get_children() if isinstance(child, matplotlib.legend.Legend)]
    texts = {t.get_text() for legend in legends for t in legend.get_texts()}
    assert {"realnvp K=1", "realnvp K=3", "seed 0", "seed 1"} <= texts
    styles = {line.get_linestyle() for line in fig.axes[0].get_lines() if len(line.get_xdata())}
    assert len(styles) == 2


def test_paper_a_panels_are_named_by_architecture_and_base_modes():
    from lwflow.reproduction.paper_a import FIGURES

    titles = [panel.title for panel in FIGURES["paper_a_fig6"]]
    assert titles[0].startswith("RealNVP, K = 1 base mode\n") and titles[2].startswith("RealNVP, K = 3 base modes")


def test_sample_panels_have_fewer_bins_for_fewer_draws():
    from lwflow.evaluation.figures import histogram_bins

    assert histogram_bins(50_000) == 149 and histogram_bins(2_000) == 30 and histogram_bins(10**7) == 150


def test_one_diverging_run_does_not_flatten_the_other_loss_curves():
    from lwflow.evaluation.figures import loss_figure

    steps = np.arange(0, 1000, 100)
    calm = pd.DataFrame({"step": steps, "val_loss": 3.0 - steps / 1000})
    spike = calm.assign(val_loss=np.where(steps == 400, 7000.0, calm["val_loss"]))
    fig = loss_figure({"maf": {0: calm, 1: spike}, "nsf": {0: calm}}, "rings")
    low, high = fig.axes[0].get_ylim()
    assert high < 10 and low < 2.2 and "spikes cut off" in fig.axes[0].get_ylabel()


def test_the_seeds_figure_of_the_same_table_is_the_same_file(tmp_path):
    """Its points are jittered (seaborn's stripplot): by a fixed stream, not numpy's global one."""
    from lwflow.evaluation.figures import save_figure, seeds_figure

    per_seed = pd.DataFrame(
        [
            {"row": row, "metric": "kl", "seed": seed, "value": 0.1 + seed + i}
            for i, row in enumerate("ab")
            for seed in (0, 1)
        ]
    )
    summary = pd.DataFrame([{"row": row, "metric": "kl", "published": 0.5, "floor": 0.01} for row in "ab"])
    written = []
    for run in ("a", "b"):
        np.random.seed(int(run == "b"))  # whatever the global state
        path = tmp_path / run / "seeds.png"
        save_figure(seeds_figure(per_seed, summary, "every seed"), [path], Provenance("test", [], {}))
        written.append(path.read_bytes())
    assert written[0] == written[1]


def test_a_figure_written_twice_is_byte_identical(tmp_path):
    """PDFs carry no date of writing: the same figure a second later is the same file."""
    import time

    from lwflow.evaluation.figures import save_figure

    written = []
    for run in ("a", "b"):
        rng = np.random.default_rng(0)
        fig = pair_figure(rng.normal(size=(200, 2)), rng.normal(size=(500, 2)), "exact", "title", ("mass", "spin"))
        paths = [tmp_path / run / f"pair.{kind}" for kind in ("png", "pdf")]
        save_figure(fig, paths, Provenance("test", [], {}))
        written.append([path.read_bytes() for path in paths])
        time.sleep(1.1)  # PDF dates have a resolution of one second
    assert written[0] == written[1]
