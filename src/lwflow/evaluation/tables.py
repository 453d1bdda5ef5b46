"""Published-vs-reproduced tables in long format: one row per (table row, metric).

Columns: ``table, row, metric, published, mean, std, n_seeds, floor, truth_floor_std``,
where ``mean``/``std`` run over seeds and ``floor`` is the mean truth-vs-truth value
of the metric at the same sample size (for bridge mass: the truth's own bridge mass).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

# the verdicts a table flags on a row (lwflow.fitting.verdict), each with its column of seeds and footnote
FLAGGED_VERDICTS = {
    "not trusted": (
        "not_trusted_seeds",
        " [not trusted: seed ...]: the check of those seeds' density against the likelihood failed "
        "(lwflow.fitting.verdict); their summary and log name the setting to raise.",
    ),
    "reweight": (
        "reweight_seeds",
        " [reweight: seed ...]: importance weights move those seeds' draws measurably; use "
        "importance-corrected draws for them.",
    ),
}

METRIC_LABELS = {
    "nll": "NLL",
    "kl": "KL(p||q)",
    "w1_avg": "W1,avg",
    "sliced_w1": "Sliced W1",
    "bridge_mass": "Bridge mass",
    "hole_mass": "Hole mass",
}


def summarise(
    table: str,
    row: str,
    metrics: list[dict[str, float]],
    floors: list[dict[str, float]],
    published: dict[str, float],
    metric_names: tuple[str, ...],
) -> list[dict[str, object]]:
    """Mean and standard deviation over seeds of each metric, beside published and floor."""
    records = []
    for name in metric_names:
        if not all(name in m for m in metrics):
            continue  # e.g. N_eff exists for mixtures only
        values = np.array([m[name] for m in metrics], dtype=float)
        floor_values = np.array([f.get(name, math.nan) for f in floors], dtype=float)
        records.append(
            {
                "table": table,
                "row": row,
                "metric": name,
                "published": published.get(name, math.nan),
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if values.size > 1 else math.nan,
                "n_seeds": int(values.size),
                "floor": float(floor_values.mean()) if np.isfinite(floor_values).any() else math.nan,
            }
        )
    return records


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A plain markdown table of ``frame``: floats to ``digits`` significant digits, blanks for missing values."""

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float) and 1000 <= abs(value) < 1e12:
            return f"{value:.0f}"  # counts and seconds: 24967, not 2.497e+04
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def wide_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per row, one column per metric, each cell ``mean ± std (paper ...; floor ...)``."""

    def cell(record: pd.Series) -> str:
        text = f"{record['mean']:.4f}"
        if np.isfinite(record["std"]):
            text += f" ± {record['std']:.4f}"
        extras = []
        if np.isfinite(record["published"]):
            extras.append(f"paper {record['published']:.4f}")
        if np.isfinite(record["floor"]):
            extras.append(f"floor {record['floor']:.4f}")
        return text + (f" ({'; '.join(extras)})" if extras else "")

    metrics = list(dict.fromkeys(frame["metric"]))
    lines = []
    for row, group in frame.groupby("row", sort=False):
        by_metric = {r["metric"]: cell(r) for _, r in group.iterrows()}
        chosen = group["chosen_k"].iloc[0] if "chosen_k" in group else None
        label = f"{row} (K per seed: {chosen})" if isinstance(chosen, str) else row
        for verdict, (column, _) in FLAGGED_VERDICTS.items():
            seeds = group[column].iloc[0] if column in group else None
            if isinstance(seeds, str) and seeds:
                label += f" [{verdict}: seed {seeds}]"
        lines.append([label] + [by_metric.get(m, "") for m in metrics])
    return pd.DataFrame(lines, columns=["row"] + [METRIC_LABELS.get(m, m) for m in metrics])


def table_footnote(frame: pd.DataFrame) -> str:
    n_seeds = int(frame["n_seeds"].max())
    note = f"Mean ± std over {n_seeds} seeds; 'floor' is the truth-vs-truth value at the same sample size."
    for column, explained in FLAGGED_VERDICTS.values():
        seeds = frame.get(column)
        if seeds is not None and seeds.map(lambda value: isinstance(value, str) and bool(value)).any():
            note += explained
    return note


def to_markdown(frame: pd.DataFrame) -> str:
    """The wide table (:func:`wide_table`) in markdown, with its footnote."""
    return markdown_table(wide_table(frame)) + "\n" + table_footnote(frame) + "\n"


def to_html(frame: pd.DataFrame | Mapping[str, pd.DataFrame], title: str) -> str:
    """A table as a standalone HTML page (the report shows it as is): a long table of means
    (``metric``, ``mean`` columns) as its wide table with the footnote, any other as it is; a
    mapping of headings to tables, each under its heading (narrow tables that fit the screen
    rather than one wide one)."""
    import html

    if isinstance(frame, Mapping):
        body = "\n".join(f"<h2>{html.escape(heading)}</h2>\n{_html_table(part)}" for heading, part in frame.items())
        footnote = ""
    else:
        summary = "mean" in frame and "metric" in frame
        body = _html_table(wide_table(frame) if summary else frame)
        footnote = f"<p>{html.escape(table_footnote(frame))}</p>" if summary else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_TABLE_STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n{footnote}</body></html>\n"
    )


def summary_sections(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A long table of posterior summaries (a row per model, seed and parameter) as two narrow
    ones for :func:`to_html`: the fits (verdict, modes, ESS, log Z +- se, Pareto k, shift per
    model and seed), then their parameters."""
    fits = frame.drop_duplicates(["model", "seed"]).copy()
    evidence = zip(fits["log_evidence"], fits["log_evidence_se"])
    fits["log Z"] = [f"{z:.4f} ± {se:.4f}" if pd.notna(z) and pd.notna(se) else "" for z, se in evidence]
    fits = fits[["model", "seed", "verdict", "n_modes", "ess", "log Z", "pareto_k", "shift"]]
    parameters = frame[["model", "seed", "parameter", "mean", "sd", "q05", "q50", "q95"]]
    return {"The fits: one row per model and seed": fits, "Their parameters": parameters}


def _html_table(frame: pd.DataFrame) -> str:
    """One table, in a box that scrolls sideways where it is wider than the screen."""
    table = frame.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0, classes="lwflow")
    return f"<div class='wide'>{table}</div>"


_TABLE_STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table.lwflow{border-collapse:collapse}"
    "table.lwflow th,table.lwflow td{padding:.3em .7em;border-bottom:1px solid #ccc;text-align:left}"
    "table.lwflow th{background:#f2f2f2}div.wide{overflow-x:auto}"
)
