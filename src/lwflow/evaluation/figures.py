"""The papers' figures, drawn from artefacts only.

Sample panels are 2D histograms on a logarithmic colour scale, so low-density
"bridges" between modes, which a linear scale hides, are visible.  All panels of one
figure share axes limits and the colour scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TABLEAU_COLORS, LogNorm  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

from lwflow.artefacts import Provenance, atomic_path, write_sidecar  # noqa: E402
from lwflow.evaluation.tables import METRIC_LABELS  # noqa: E402

AXIS_NAMES = ("$\\theta_1$", "$\\theta_2$", "$\\theta_3$")


@dataclass(frozen=True)
class Panel:
    """One column of a figure: a title and either samples or an exact log-density (2D only)."""

    title: str
    samples: np.ndarray | None = None
    log_prob: Callable[[np.ndarray], np.ndarray] | None = None


def shared_limits(samples: list[np.ndarray], margin: float = 0.08) -> np.ndarray:
    """Per-coordinate (low, high) covering the 0.1%-99.9% range of all samples, plus a margin."""
    stacked = np.concatenate(samples)
    low, high = np.percentile(stacked, 0.1, axis=0), np.percentile(stacked, 99.9, axis=0)
    pad = margin * (high - low)
    return np.stack([low - pad, high + pad], axis=1)


# matplotlib stamps the time of writing into PDF files; without it a seed gives the same file
# byte for byte (PNG carries no date).
UNDATED = {"pdf": {"CreationDate": None}}


def save_figure(fig: plt.Figure, paths: list[Path], provenance: Provenance) -> None:
    """Write ``fig`` to each path (format from its suffix), atomically and undated, each with a sidecar."""
    for path in map(Path, paths):
        kind = path.suffix[1:]
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, bbox_inches="tight", format=kind, metadata=UNDATED.get(kind))
        write_sidecar(path, provenance)
    plt.close(fig)


def histogram_bins(n_samples: int) -> int:
    """Bins per axis of a sample panel: about sqrt(n)/1.5, between 30 and 150, so that a cell
    holds a few draws where the density is high (150 bins for 50 000 draws; 2 000 draws in 150 x
    150 cells are speckle)."""
    return int(np.clip(np.sqrt(n_samples) / 1.5, 30, 150))


def _draw_panel(ax: plt.Axes, panel: Panel, pair: tuple[int, int], extent: list[np.ndarray]) -> AxesImage:
    """Exact density on a grid or a 2D histogram of samples, both normalised to their maximum."""
    i, j = pair
    if panel.log_prob is not None:
        edges = [np.linspace(limits[0], limits[1], 301) for limits in extent]
        centres = [0.5 * (e[1:] + e[:-1]) for e in edges]
        gx, gy = np.meshgrid(*centres)
        values = np.exp(panel.log_prob(np.column_stack([gx.ravel(), gy.ravel()]))).reshape(gx.shape)
    elif panel.samples is not None:
        bins = histogram_bins(len(panel.samples))
        values, *edges = np.histogram2d(panel.samples[:, i], panel.samples[:, j], bins=bins, range=extent)
        values = values.T
    else:
        raise ValueError(f"panel {panel.title!r} has neither samples nor a log-density")
    # an image, not a mesh of quads: Figure 2's 42 meshes of 150 x 150 cells took 33 s to save
    image = ax.imshow(
        np.maximum(values / values.max(), 1e-5),
        origin="lower",
        extent=(edges[0][0], edges[0][-1], edges[1][0], edges[1][-1]),
        aspect="auto",
        interpolation="nearest",
        norm=LogNorm(1e-4, 1),
        cmap="viridis",
    )
    ax.set_xlabel(AXIS_NAMES[i])
    ax.set_ylabel(AXIS_NAMES[j])
    return image


def sample_grid_figure(rows: list[tuple[str, list[Panel]]], suptitle: str) -> plt.Figure:
    """One row per 2D target (its own limits), one column per panel (truth, then models)."""
    n_cols = max(len(panels) for _, panels in rows)
    fig, axes = plt.subplots(
        len(rows), n_cols, figsize=(2.6 * n_cols, 2.5 * len(rows)), squeeze=False, constrained_layout=True
    )
    for r, (label, panels) in enumerate(rows):
        limits = shared_limits([p.samples for p in panels if p.samples is not None])
        for c, panel in enumerate(panels):
            image = _draw_panel(axes[r, c], panel, (0, 1), [limits[0], limits[1]])
            axes[r, c].set_title(f"{label}: {panel.title}" if c == 0 else panel.title, fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.6, label="density / max (log scale)")
    fig.suptitle(suptitle)
    return fig


def weights_figure(weights: pd.DataFrame, published: dict[str, dict[str, float]], suptitle: str) -> plt.Figure:
    """Mixture weight per expert and dataset, AMF-VI (EMA) and EM side by side, mean ± std over
    seeds (columns ``dataset, method, expert, seed, weight``); published AMF-VI weights as black marks."""
    datasets = list(dict.fromkeys(weights["dataset"]))
    experts = list(dict.fromkeys(weights["expert"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(2.6 * len(datasets), 3.2), squeeze=False, sharey=True)
    width = 0.38
    for ax, dataset in zip(axes[0], datasets):
        for offset, (method, colour) in zip((-width / 2, width / 2), (("ema", "tab:blue"), ("em", "tab:orange"))):
            rows = weights[(weights["dataset"] == dataset) & (weights["method"] == method)]
            stats = rows.groupby("expert")["weight"].agg(["mean", "std"]).reindex(experts)
            ax.bar(
                np.arange(len(experts)) + offset,
                stats["mean"],
                width,
                yerr=stats["std"],
                color=colour,
                label="AMF-VI (EMA)" if method == "ema" else "EM",
            )
        for k, expert in enumerate(experts):
            if expert in published.get(dataset, {}):
                ax.plot(k - width / 2, published[dataset][expert], "k_", markersize=14)
        ax.set_xticks(np.arange(len(experts)), experts, rotation=45)
        ax.set_title(dataset)
        ax.set_ylim(0, 1)
    axes[0, 0].set_ylabel("mixture weight")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def projection_figure(
    panels: list[Panel], projections: list[tuple[int, int]], limits: np.ndarray, suptitle: str
) -> plt.Figure:
    """Rows = coordinate pairs, columns = panels (a single panel: projections side by side)."""
    single = len(panels) == 1
    n_rows, n_cols = (1, len(projections)) if single else (len(projections), len(panels))
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(3.6 * n_cols, 3.3 * n_rows),
        squeeze=False,
        sharex=False if single else "row",
        sharey=False if single else "row",
        constrained_layout=True,
    )
    for r, (i, j) in enumerate(projections):
        for c, panel in enumerate(panels):
            ax = axes[0, r] if single else axes[r, c]
            image = _draw_panel(ax, panel, (i, j), [limits[i], limits[j]])
            if r == 0 or single:
                ax.set_title(panel.title)
    fig.colorbar(image, ax=axes, shrink=0.85, label="density / max (log scale)")
    fig.suptitle(suptitle)
    return fig


def scatter3d_figure(samples: np.ndarray, log_density: np.ndarray, title: str) -> plt.Figure:
    """A 3D scatter of exact samples coloured by log-density (paper A, Figure 4)."""
    fig = plt.figure(figsize=(6, 5), constrained_layout=True)
    ax = fig.add_subplot(projection="3d")
    points = ax.scatter(*samples.T, c=log_density, s=1, cmap="viridis", alpha=0.6)
    ax.set_xlabel(AXIS_NAMES[0])
    ax.set_ylabel(AXIS_NAMES[1])
    ax.set_zlabel(AXIS_NAMES[2])
    ax.set_title(title)
    fig.colorbar(points, ax=ax, shrink=0.7, label="log p")
    return fig


SEED_STYLES: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))  # Any: matplotlib's type is private


def loss_figure(histories: dict[str, dict[int, pd.DataFrame]], title: str) -> plt.Figure:
    """Validation loss (weighted NLL) against step from step 0 (the initial state): a colour per
    model and a line style per seed, each in its own legend, a ring on the step whose state was
    kept. Where a spike rises far above the 95th percentile of all values, the
    axis stops above that percentile, so that the other curves stay readable."""
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(6.5, 4), constrained_layout=True)
    seeds = sorted({seed for frames in histories.values() for seed in frames})
    style = {seed: SEED_STYLES[i % len(SEED_STYLES)] for i, seed in enumerate(seeds)}
    for colour, (label, frames) in zip(TABLEAU_COLORS, histories.items()):
        for seed, frame in frames.items():
            ax.plot(frame["step"], frame["val_loss"], color=colour, linestyle=style[seed], alpha=0.8)
            if "kept" in frame:  # the state the model returns: a ring on its step
                kept = frame[frame["kept"].astype(bool)]
                ax.scatter(kept["step"], kept["val_loss"], s=40, facecolors="none", edgecolors=colour, zorder=3)
        ax.plot([], [], color=colour, label=label)
    values = np.concatenate(
        [frame["val_loss"].to_numpy() for frames in histories.values() for frame in frames.values()]
    )
    values = values[np.isfinite(values)]
    label = "validation loss: weighted NLL"
    if values.size:
        low, typical = values.min(), np.percentile(values, 95)
        if values.max() > typical + 3 * (typical - low):  # one diverging run would flatten every other curve
            ax.set_ylim(low - 0.05 * (typical - low), typical + 0.5 * (typical - low))
            label += " (spikes cut off)"
    ax.set_xlabel("training step (ring: the state kept)")
    ax.set_ylabel(label)
    ax.set_title(title)
    models = ax.legend(loc="upper right", fontsize="small", title="model")
    ax.add_artist(models)
    handles = [Line2D([], [], color="0.3", linestyle=style[seed]) for seed in seeds]
    ax.legend(handles, [f"seed {seed}" for seed in seeds], loc="upper center", fontsize="small", title="seed")
    return fig


def pair_figure(
    samples: np.ndarray,
    background: np.ndarray | None,
    background_label: str,
    title: str,
    names: tuple[str, ...],
    box: tuple[np.ndarray, np.ndarray] | None = None,
    modes: np.ndarray | None = None,
) -> plt.Figure:
    """Corner plot of a model's samples (orange) over a background sample (grey, where given),
    axes ``names``, each axis within the prior's ``box`` where given (a stray draw does not
    stretch it).  ``modes``: each sample's base mode; the samples are then coloured by mode,
    each with its share in the legend.

    Diagonal: 1D histograms of both (a mode's histogram is scaled by its share, so the modes'
    heights add up to the model's); below it: every pair of coordinates, the background as a 2D
    histogram and the model's samples as points.
    """
    dim = samples.shape[1]
    limits = shared_limits([samples] if background is None else [background, samples])
    if box is not None:
        low, high = (np.asarray(bound, dtype=float) for bound in box)
        limits = np.stack([np.maximum(limits[:, 0], low), np.minimum(limits[:, 1], high)], axis=1)
    labels = np.zeros(len(samples), dtype=int) if modes is None else np.asarray(modes)
    groups = [(labels == k, f"mode {k + 1} ({np.mean(labels == k):.0%})") for k in np.unique(labels)]
    colours = ["tab:orange"] if modes is None else [f"C{k % 10}" for k in range(len(groups))]
    if modes is None:
        groups = [(groups[0][0], "model")]
    size = (2.6 * dim + 0.6, 2.6 * dim) if dim > 1 else (5.0, 3.2)  # one parameter: one wide histogram
    fig, axes = plt.subplots(dim, dim, figsize=size, squeeze=False, constrained_layout=True)
    for i in range(dim):
        for j in range(dim):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                bins = np.linspace(limits[i][0], limits[i][1], 80)
                if background is not None:
                    ax.hist(background[:, i], bins=bins, density=True, color="0.6", label=background_label)
                for (rows, label), colour in zip(groups, colours):
                    share = np.full(rows.sum(), 1.0 / (len(samples) * np.diff(bins)[0]))
                    ax.hist(samples[rows, i], bins=bins, weights=share, histtype="step", color=colour, label=label)
                ax.set_xlim(limits[i])
                ax.set_yticks([])
            else:
                if background is not None:
                    ax.hist2d(
                        background[:, j],
                        background[:, i],
                        bins=histogram_bins(len(background)),
                        range=[limits[j], limits[i]],
                        cmap="Greys",
                        norm=LogNorm(),
                    )
                for (rows, _), colour in zip(groups, colours):
                    ax.scatter(samples[rows, j], samples[rows, i], s=0.5, alpha=0.3, color=colour, rasterized=True)
                ax.set_xlim(limits[j])
                ax.set_ylim(limits[i])
            if i == dim - 1:
                ax.set_xlabel(names[j])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
    axes[0, 0].legend(fontsize="small", loc="upper right")
    fig.suptitle(title)
    return fig


PUBLISHED_MARK = {"marker": "x", "color": "tab:red", "s": 40, "zorder": 3, "label": "published"}
FLOOR_MARK = {"marker": "|", "color": "0.5", "s": 200, "zorder": 2, "label": "floor"}


def seeds_figure(per_seed: pd.DataFrame, summary: pd.DataFrame, title: str, max_panels: int = 4) -> plt.Figure:
    """Each seed's value of each metric (a dot per seed, one row per table row), beside the
    published value (a red cross) and the truth-vs-truth floor (a grey bar): the spread that a
    table's mean ± std summarises, drawn with seaborn's strip plot.

    ``per_seed``: columns ``row, metric, seed, value``; ``summary``: the long table
    (``row, metric, published, floor``). The first ``max_panels`` metrics get a panel each; an
    axis whose positive values span more than a factor 30 is logarithmic (NLL and KL can span
    decades across rows: a torn mode).
    """
    import seaborn as sns

    metrics = list(dict.fromkeys(per_seed["metric"]))[:max_panels]
    rows = list(dict.fromkeys(per_seed["row"]))
    seeds = [str(seed) for seed in sorted(set(per_seed["seed"]))]
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(3.2 * len(metrics), 1.6 + 0.35 * len(rows)), sharey=True, squeeze=False
    )
    for ax, metric in zip(axes[0], metrics):
        values = per_seed[per_seed["metric"] == metric].astype({"seed": str})
        # seaborn draws the jitter from numpy's global generator: seeded here, and put back after,
        # so that the same tables give the same figure, byte for byte
        state = np.random.get_state()
        np.random.seed(0)
        sns.stripplot(
            values,
            x="value",
            y="row",
            order=rows,
            hue="seed",
            hue_order=seeds,
            palette="colorblind",
            ax=ax,
            legend=ax is axes[0][0],
            size=5,
            jitter=0.15,
        )
        np.random.set_state(state)
        marks = summary[summary["metric"] == metric].set_index("row").reindex(rows)
        for column, style in (("published", PUBLISHED_MARK), ("floor", FLOOR_MARK)):
            shown = marks[column].notna()
            if shown.any():
                ax.scatter(marks[column][shown], marks.index[shown], **style)
        if (values["value"] > 0).all() and values["value"].max() > 30 * values["value"].min():
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(METRIC_LABELS.get(metric, metric))
        ax.set_ylabel("")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if axes[0][0].get_legend() is not None:
        axes[0][0].get_legend().remove()
    fig.legend(
        handles, labels, loc="upper right", fontsize="small", title="seed / reference", bbox_to_anchor=(1.0, 1.0)
    )
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.88, 0.95))
    return fig
