"""Paper A's tables and figures: which trained models each one shows, and the published numbers.

Baruah, *Amortized Inference of Multi-Modal Posteriors using Likelihood-Weighted
Normalizing Flows* (arXiv 2512.04954).  Problem names are those of ``config.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROBLEMS = ("gmm2d_1mode", "gmm2d_2mode", "gmm2d_3mode", "gmm3d_3mode", "nongauss3d")
ARCH = "realnvp"


@dataclass(frozen=True)
class TableRow:
    label: str
    problem: str
    modes: int
    published: dict[str, float] = field(default_factory=dict)


TABLES: dict[str, list[TableRow]] = {
    "paper_a_table1": [
        TableRow("Single-Mode", "gmm2d_1mode", 1, {"kl": 0.0027, "w1_avg": 0.0904}),
        TableRow("Two-Mode", "gmm2d_2mode", 1, {"kl": 0.0171, "w1_avg": 0.1382}),
        TableRow("Three-Mode", "gmm2d_3mode", 1, {"kl": 0.0401, "w1_avg": 0.1939}),
    ],
    "paper_a_table2": [
        TableRow("Model-2D1", "gmm2d_3mode", 1, {"w1_avg": 0.1352, "sliced_w1": 0.1329, "kl": 0.0354}),
        TableRow("Model-2D2", "gmm2d_3mode", 2, {"w1_avg": 0.2372, "sliced_w1": 0.2767, "kl": 0.0270}),
        TableRow("Model-2D3", "gmm2d_3mode", 3, {"w1_avg": 0.0787, "sliced_w1": 0.0949, "kl": 0.0132}),
    ],
    "paper_a_table3": [
        TableRow("Model-nonGauss1", "nongauss3d", 1, {"w1_avg": 1.6173, "sliced_w1": 1.5857, "kl": 0.2426}),
        TableRow("Model-nonGauss2", "nongauss3d", 2, {"w1_avg": 4.4237, "sliced_w1": 4.1431, "kl": 0.1116}),
        TableRow("Model-nonGauss3", "nongauss3d", 3, {"w1_avg": 0.3732, "sliced_w1": 0.3880, "kl": 0.0940}),
    ],
}

METRICS = ("kl", "w1_avg", "sliced_w1", "bridge_mass")


def base_modes(k: int) -> str:
    """``K = 1 base mode``, ``K = 3 base modes``: what a panel's model is, in words."""
    return f"K = {k} base mode{'s' if k != 1 else ''}"


@dataclass(frozen=True)
class FigurePanel:
    problem: str
    modes: int | None  # None: the truth
    title: str


FIGURES: dict[str, list[FigurePanel]] = {
    "paper_a_fig2": [
        FigurePanel("gmm2d_1mode", None, "Single-mode (truth)"),
        FigurePanel("gmm2d_2mode", None, "Two-mode (truth)"),
        FigurePanel("gmm2d_3mode", None, "Three-mode (truth)"),
    ],
    "paper_a_fig3": [
        FigurePanel("gmm2d_1mode", 1, f"Single-mode\nRealNVP, {base_modes(1)}"),
        FigurePanel("gmm2d_2mode", 1, f"Two-mode\nRealNVP, {base_modes(1)}"),
        FigurePanel("gmm2d_3mode", 1, f"Three-mode\nRealNVP, {base_modes(1)}"),
    ],
    "paper_a_fig4": [FigurePanel("gmm3d_3mode", None, "3D three-mode (truth)")],
    "paper_a_fig5": [FigurePanel("gmm3d_3mode", 1, f"3D three-mode\nRealNVP, {base_modes(1)}")],
    "paper_a_fig6": [FigurePanel("gmm2d_3mode", k, f"RealNVP, {base_modes(k)}\n(Model-2D{k})") for k in (1, 2, 3)],
    "paper_a_fig7": [FigurePanel("gmm3d_3mode", k, f"RealNVP, {base_modes(k)}\n(Model-3D{k})") for k in (1, 2, 3)],
    "paper_a_fig8": [FigurePanel("nongauss3d", k, f"RealNVP, {base_modes(k)}\n(Model-nonGauss{k})") for k in (1, 2, 3)],
}


FIGURE_TITLES: dict[str, str] = {
    "paper_a_fig2": "Figure 2: true posterior densities of the 2D benchmarks",
    "paper_a_fig3": "Figure 3: flows with a 1-mode base on the 2D benchmarks",
    "paper_a_fig4": "Figure 4: true 3D three-mode posterior",
    "paper_a_fig5": "Figure 5: 2D projections of the 3D flow with a 1-mode base",
    "paper_a_fig6": "Figure 6: 2D three-mode posterior with 1, 2, 3 base modes",
    "paper_a_fig7": "Figure 7: 3D three-mode posterior with 1, 2, 3 base modes",
    "paper_a_fig8": "Figure 8: non-Gaussian 3D posterior with 1, 2, 3 base modes",
}


def models_needed() -> set[tuple[str, int]]:
    """Every (problem, base modes) that a table or figure of paper A shows."""
    from_tables = {(row.problem, row.modes) for rows in TABLES.values() for row in rows}
    from_figures = {(p.problem, p.modes) for panels in FIGURES.values() for p in panels if p.modes is not None}
    return from_tables | from_figures
