"""Where every artefact of a run lives, relative to the results folder: defined once.

The workflow's rules spell these patterns out literally where they make the artefact (the
Snakemake convention; a test checks they agree) and link to that rule's ``rules.X.output`` where
another rule reads it; the experiment plan (:mod:`lwflow.stages.plan`) builds its paths from
them, and ``lwflow fit --out DIR`` writes the same files under ``DIR``.
Wildcards: ``problem``, ``seed``, ``fit`` (likelihood | samples | adaptive), ``arch``,
``modes`` (base modes: an integer or auto), ``chunk``, ``round`` (adaptive rounds: 0, 1, ...).
"""

from __future__ import annotations

from pathlib import Path

RESULTS = "results"

LAYOUT = {
    "prior": "prior/{problem}/seed{seed}.npz",
    "likelihood_chunk": "likelihood/{problem}/seed{seed}/chunk{chunk}.npz",
    "likelihood": "likelihood/{problem}/seed{seed}.npz",
    "weights": "weights/{problem}/seed{seed}.npz",
    "weights_report": "weights/{problem}/seed{seed}_report.json",
    "model": "models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/model.pt",
    "loss": "models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/loss.csv",
    "samples": "models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/samples.npz",
    "modes": "models/{fit}/{problem}/{arch}_K{modes}/seed{seed}/modes.json",
    "round_draws": "rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/draws.npz",
    "round_likelihood_chunk": "rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/likelihood/chunk{chunk}.npz",
    "round_likelihood": "rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/likelihood.npz",
    "round_pool": "rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/pool.npz",
    "round_report": "rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/report.json",
    "round_model": "rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/model.pt",
    "round_loss": "rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/loss.csv",
    "round_modes": "rounds/{problem}/{arch}_K{modes}/seed{seed}/round{round}/modes.json",
    "target": "target/{problem}/seed{seed}.npz",
    "truth": "truth/{problem}/seed{seed}.npz",
    "floor": "floors/{problem}/seed{seed}.json",
    "metrics": "metrics/{fit}/{problem}/{arch}_K{modes}/seed{seed}.json",
    "log_q": "metrics/{fit}/{problem}/{arch}_K{modes}/seed{seed}_log_q.npz",
    "mixture_weights": "mixtures/{fit}/{problem}/K{modes}/seed{seed}/weights.json",
    "mixture_trajectory": "mixtures/{fit}/{problem}/K{modes}/seed{seed}/trajectory.csv",
    "mixture_metrics": "mixtures/{fit}/{problem}/K{modes}/seed{seed}/metrics.json",
    "mixture_samples": "mixtures/{fit}/{problem}/K{modes}/seed{seed}/samples.npz",
    "pair_plot": "figures/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}.png",
    "summary": "summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.json",
    "summary_markdown": "summary/{fit}/{problem}/{arch}_K{modes}/seed{seed}.md",
    "problem_summary": "summary/{problem}.csv",
    "problem_summary_markdown": "summary/{problem}.md",
}


def pattern(name: str, root: str = RESULTS) -> str:
    """The wildcard pattern of artefact ``name`` under ``root``."""
    return f"{root}/{LAYOUT[name]}"


def artefact_path(name: str, root: str | Path = RESULTS, **wildcards: object) -> Path:
    """The path of artefact ``name`` for the given wildcards under ``root``."""
    return Path(root) / LAYOUT[name].format(**wildcards)
