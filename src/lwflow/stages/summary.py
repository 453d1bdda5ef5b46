"""The summary stage (workflow/rules/summary.smk): every model's posterior summary of one problem
in one long table, as CSV, markdown and HTML."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lwflow.artefacts import (
    Provenance,
    read_json,
    write_csv,
    write_text,
)

__all__ = ["problem_summary"]


def problem_summary(
    summaries: Sequence[Path], csv_out: Path, markdown_out: Path, html_out: Path, provenance: Provenance
) -> None:
    """Every model's summary of one problem in one long table (a row per model, seed and
    parameter), also as markdown, and as an HTML page of two narrow tables: the fits (verdict,
    modes, ESS, log Z +- se, Pareto k, shift per model and seed) and their parameters."""
    import pandas as pd

    from lwflow.evaluation.tables import markdown_table, summary_sections, to_html

    rows = []
    for path in summaries:
        record = read_json(path)
        head = {k: v for k, v in record.items() if k != "parameters"}
        rows += [head | parameter for parameter in record["parameters"]]
    columns = ["problem", "model", "seed", "verdict", "parameter", "mean", "sd", "q05", "q50", "q95", "n_modes"]
    columns += ["ess", "log_evidence", "log_evidence_se", "pareto_k", "shift"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    write_csv(csv_out, frame, provenance)
    write_text(markdown_out, markdown_table(frame), provenance)
    write_text(html_out, to_html(summary_sections(frame), f"Posterior summaries: {Path(csv_out).stem}"), provenance)
