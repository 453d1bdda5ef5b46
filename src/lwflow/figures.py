"""The papers' figures, drawn from artefacts only.

Sample panels are 2D histograms on a logarithmic colour scale, so low-density
"bridges" between modes, which a linear scale hides, are visible.  All panels of one
figure share axes limits and the colour scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from lwflow.artefacts import Provenance, atomic_path, write_sidecar  # noqa: E402

AXIS_NAMES = ("$\\theta_1$", "$\\theta_2$", "$\\theta_3$")


@dataclass(frozen=True)
class Panel:
    """One column of a figure: a title and either samples or an exact log-density (2D only)."""

    title: str
    samples: np.ndarray | None = None
    log_density: Callable[[np.ndarray], np.ndarray] | None = None


def shared_limits(samples: list[np.ndarray], margin: float = 0.08) -> np.ndarray:
    """Per-coordinate (low, high) covering the 0.1%-99.9% range of all samples, plus a margin."""
    stacked = np.concatenate(samples)
    low, high = np.percentile(stacked, 0.1, axis=0), np.percentile(stacked, 99.9, axis=0)
    pad = margin * (high - low)
    return np.stack([low - pad, high + pad], axis=1)


def save_figure(fig: plt.Figure, png: Path, pdf: Path, provenance: Provenance) -> None:
    for path in (Path(png), Path(pdf)):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, bbox_inches="tight", format=path.suffix[1:])
        write_sidecar(path, provenance)
    plt.close(fig)


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
    image = None
    for r, (i, j) in enumerate(projections):
        for c, panel in enumerate(panels):
            ax = axes[0, r] if single else axes[r, c]
            extent = [limits[i], limits[j]]
            if panel.log_density is not None:
                xs, ys = np.linspace(*extent[0], 300), np.linspace(*extent[1], 300)
                gx, gy = np.meshgrid(xs, ys)
                density = np.exp(panel.log_density(np.column_stack([gx.ravel(), gy.ravel()]))).reshape(gx.shape)
                density /= density.max()
                image = ax.pcolormesh(
                    gx, gy, np.maximum(density, 1e-5), norm=LogNorm(1e-4, 1), cmap="viridis", shading="auto"
                )
            else:
                counts, xe, ye = np.histogram2d(panel.samples[:, i], panel.samples[:, j], bins=150, range=extent)
                counts = counts / counts.max()
                image = ax.pcolormesh(xe, ye, np.maximum(counts.T, 1e-5), norm=LogNorm(1e-4, 1), cmap="viridis")
            ax.set_xlabel(AXIS_NAMES[i])
            ax.set_ylabel(AXIS_NAMES[j])
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


def loss_figure(histories: dict[str, list[pd.DataFrame]], title: str) -> plt.Figure:
    """Validation loss (weighted NLL) against step: one colour per model, one line per seed."""
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for colour, (label, frames) in zip(plt.cm.tab10.colors, histories.items()):
        for k, frame in enumerate(frames):
            ax.plot(frame["step"], frame["val_loss"], color=colour, alpha=0.7, label=label if k == 0 else None)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss: weighted NLL")
    ax.set_title(title)
    ax.legend()
    return fig
