"""The report stages (workflow/rules/report.smk): the papers' tables and figures, the results pages,
loss curves and each model's pair plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lwflow.artefacts import (
    Provenance,
    read_json,
    read_npz,
    sidecar_path,
    write_csv,
    write_text,
)
from lwflow.streams import rng_for

__all__ = [
    "paper_table",
    "results_page",
    "paper_a_figure",
    "loss_curves",
    "model_diagnostics",
    "paper_b_weights_figure",
    "paper_b_samples_figure",
]


def paper_table(
    table: str,
    rows: list[dict[str, Any]],
    metric_names: tuple[str, ...],
    csv_out: Path,
    markdown_out: Path,
    html_out: Path,
    seeds_png: Path,
    provenance: Provenance,
) -> None:
    """A long-format table from per-seed metrics (also as markdown, as an HTML page and as a
    figure of every seed's values, :func:`lwflow.evaluation.figures.seeds_figure`).

    ``rows`` carry label, published, seeds, metrics, floors paths, and optionally ``key`` (the
    metrics sit under that key of each JSON: mixtures), ``true_modes``, ``density_maxima``
    and ``modes`` (per-seed ``modes.json`` paths: the chosen K, column ``chosen_k``)."""
    import pandas as pd

    from lwflow.evaluation.figures import save_figure, seeds_figure
    from lwflow.evaluation.tables import FLAGGED_VERDICTS, summarise, to_html, to_markdown

    records, per_seed = [], []
    for row in rows:
        metrics = [read_json(p)[row["key"]] if row.get("key") else read_json(p) for p in row["metrics"]]
        per_seed += [
            {"row": row["label"], "metric": name, "seed": seed, "value": float(values[name])}
            for name in metric_names
            for seed, values in zip(row["seeds"], metrics)
            if name in values
        ]
        floors = [read_json(p) for p in row["floors"]]
        extra = {
            column: math.nan if row[column] is None else row[column]
            for column in ("true_modes", "density_maxima")
            if column in row
        }
        if "modes" in row:
            extra["chosen_k"] = " ".join(str(read_json(p)["n_modes"]) for p in row["modes"])
        for verdict, (column, _) in FLAGGED_VERDICTS.items():
            extra[column] = " ".join(
                str(s) for s, values in zip(row["seeds"], metrics) if values.get("verdict") == verdict
            )
        records += [
            record | extra for record in summarise(table, row["label"], metrics, floors, row["published"], metric_names)
        ]
    frame = pd.DataFrame.from_records(records)
    write_csv(csv_out, frame, provenance)
    write_text(markdown_out, to_markdown(frame), provenance)
    write_text(html_out, to_html(frame, table), provenance)
    figure = seeds_figure(pd.DataFrame(per_seed), frame, f"{table}: every seed")
    save_figure(figure, [seeds_png], provenance)


def results_page(template: Path, tables: dict[str, Path], page_out: Path, provenance: Provenance) -> None:
    """A results page (:mod:`lwflow.evaluation.pages`): ``template`` filled with each table's
    markdown (``$name``: the ``.md`` beside its ``.csv``, as the table job wrote it), its
    comparison with the published values (``$name_comparison``, from the ``.csv``) and the stamp
    of the jobs that made the tables (``$stamp``)."""
    import pandas as pd

    from lwflow.evaluation.pages import published_comparison, render_page, run_stamp

    values = {"stamp": run_stamp([read_json(sidecar_path(Path(path))) for path in tables.values()])}
    for name, path in tables.items():
        values[name] = Path(path).with_suffix(".md").read_text().strip()
        values[f"{name}_comparison"] = published_comparison(pd.read_csv(path))
    write_text(page_out, render_page(Path(template).read_text(), values), provenance)


def paper_a_figure(
    figure: str, title: str, panels: list[dict[str, Any]], png: Path, pdf: Path, provenance: Provenance
) -> None:
    """Paper A's figure ``figure`` from truth references and model samples.

    Each entry of ``panels`` has ``title, problem, spec, reference`` and ``samples`` (a
    model's samples, or None for the truth).
    """
    from lwflow.evaluation.figures import Panel, projection_figure, save_figure, scatter3d_figure, shared_limits
    from lwflow.problems import problem_from_spec

    references = [read_npz(p["reference"]) for p in panels]
    dim = references[0]["samples"].shape[1]
    if figure == "paper_a_fig4":
        fig = scatter3d_figure(references[0]["samples"][:5000], references[0]["log_p"][:5000], title)
        save_figure(fig, [png, pdf], provenance)
        return
    built = []
    for entry in panels:
        if entry["samples"] is None:
            truth = problem_from_spec(entry["problem"], entry["spec"]).truth
            built.append(Panel(entry["title"], log_prob=truth.log_prob))
        else:
            built.append(Panel(entry["title"], samples=read_npz(entry["samples"])["samples"]))
    limits = shared_limits([ref["samples"] for ref in references])
    projections = [(0, 1)] if dim == 2 else [(0, 1), (0, 2)] if len(panels) > 1 else [(0, 1), (0, 2), (1, 2)]
    save_figure(projection_figure(built, projections, limits, title), [png, pdf], provenance)


def loss_curves(
    problem: str, histories: dict[str, dict[str, Path]], png: Path, pdf: Path, provenance: Provenance
) -> None:
    """Validation-loss curves of every model of one problem (``histories``: model -> seed -> path)."""
    import pandas as pd

    from lwflow.evaluation.figures import loss_figure, save_figure

    frames = {label: {int(s): pd.read_csv(path) for s, path in paths.items()} for label, paths in histories.items()}
    save_figure(loss_figure(frames, f"{problem}: training curves"), [png, pdf], provenance)


def model_diagnostics(
    name: str,
    spec: dict[str, Any],
    label: str,
    samples: Path,
    modes: Path,
    background: dict[str, Path],
    seed: int,
    png: Path,
    provenance: Provenance,
) -> None:
    """Pair plot of a model's samples over the exact posterior (``background['reference']``)
    or, without one, over its weighted draws resampled by weight (an adaptive model's last
    ``pool``, else the clipped prior draws ``prior`` and ``weights``); the axes
    named after the problem's parameters, the title with the model's base modes."""
    from lwflow.evaluation.figures import pair_figure, save_figure
    from lwflow.problems import problem_from_spec

    n_points = 5000
    model = read_npz(samples)["samples"][:n_points]
    if "reference" in background:
        points, what = read_npz(background["reference"])["samples"][:50_000], "exact posterior"
    else:
        pool = background.get("pool")
        theta = read_npz(pool or background["prior"])["theta"]
        weights = read_npz(pool or background["weights"])["weights"]
        chosen = rng_for(seed, "diagnostics").choice(len(theta), size=50_000, p=weights / weights.sum())
        points, what = theta[chosen], "weighted draws of the rounds" if pool else "weighted prior samples"
    from lwflow.reproduction.paper_a import base_modes

    title = f"{label}: {base_modes(read_json(modes)['n_modes'])}"
    problem = problem_from_spec(name, spec)
    figure = pair_figure(model, points, what, title, problem.names, problem.prior.support())
    save_figure(figure, [png], provenance)


def paper_b_weights_figure(weights: dict[str, list[Path]], png: Path, pdf: Path, provenance: Provenance) -> None:
    """Paper B, Figure 1: AMF-VI (EMA) and EM weights per dataset (``weights``: dataset -> per-seed JSONs)."""
    import pandas as pd

    from lwflow.evaluation.figures import save_figure, weights_figure
    from lwflow.reproduction.paper_b import PUBLISHED_WEIGHTS, TITLES

    records = [
        {"dataset": TITLES.get(dataset, dataset), "method": method, "expert": expert, "seed": seed, "weight": value}
        for dataset, paths in weights.items()
        for seed, path in enumerate(paths)
        for method in ("ema", "em")
        for expert, value in read_json(path)[method].items()
    ]
    published = {TITLES[d]: w for d, w in PUBLISHED_WEIGHTS.items()}
    title = "Mixture weights per dataset: AMF-VI moving average vs maximum likelihood (EM); black: paper"
    save_figure(weights_figure(pd.DataFrame.from_records(records), published, title), [png, pdf], provenance)


def paper_b_samples_figure(rows: list[dict[str, Any]], png: Path, pdf: Path, provenance: Provenance) -> None:
    """Paper B, Figure 2: per target, exact samples then each expert's and AMF-VI's samples.

    Each entry of ``rows`` has ``title, reference`` and ``models`` (label -> samples path,
    or ``(path, key)`` for a mixture's samples)."""
    from lwflow.evaluation.figures import Panel, sample_grid_figure, save_figure

    n = 20000
    grid = []
    for row in rows:
        panels = [Panel("exact", samples=read_npz(row["reference"])["samples"][:n])]
        for label, source in row["models"].items():
            path, key = source if isinstance(source, (list, tuple)) else (source, "samples")
            panels.append(Panel(label, samples=read_npz(path)[key][:n]))
        grid.append((row["title"], panels))
    fig = sample_grid_figure(grid, "Exact samples and model samples (log-scale 2D histograms)")
    save_figure(fig, [png, pdf], provenance)
