"""Results pages: markdown documents rendered from the workflow's tables, so that no number in
them is typed by hand.

A page is a template (``string.Template``: ``$name`` placeholders) filled with the tables'
markdown, a sentence per table comparing reproduced with published means, and a stamp that
names the date, commit and machine of the jobs that made the tables (read from the tables'
own sidecars, :mod:`lwflow.artefacts`).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lwflow.evaluation.tables import METRIC_LABELS


def run_stamp(sidecars: Sequence[Mapping[str, Any]]) -> str:
    """Date, commit and machine of the jobs whose sidecars are given, e.g.
    ``2026-12-01, commit 77db413, x86_64, 2 CPUs, Linux ...``; several values are all listed."""
    if not sidecars:
        raise ValueError("a results page needs the sidecars of the tables it shows")

    def values(read: Any) -> str:
        return "; ".join(dict.fromkeys(str(read(sidecar)) for sidecar in sidecars))

    dates = sorted({str(sidecar["finished"])[:10] for sidecar in sidecars})
    date = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    commit = values(lambda sidecar: sidecar["lwflow"]["commit"][:12])
    machine = values(lambda sidecar: sidecar.get("machine", "machine not recorded"))
    return f"{date}, commit {commit}, {machine}"


def published_comparison(frame: pd.DataFrame) -> str:
    """One sentence: in how many cells of a long table (:mod:`lwflow.evaluation.tables`) the
    mean over seeds is below the published value, naming the cells where it is not."""
    published = frame[np.isfinite(frame["published"].astype(float))]
    if published.empty:
        return "This table has no published values."
    below = published["mean"] < published["published"]
    sentence = f"Reproduced mean below the published value in {int(below.sum())} of {len(published)} cells"
    missed = published[~below]
    if missed.empty:
        return sentence + "."
    cells = "; ".join(
        f"{r['row']}, {METRIC_LABELS.get(r['metric'], r['metric'])}: {r['mean']:.4g} against {r['published']:.4g}"
        for _, r in missed.iterrows()
    )
    return f"{sentence}; not below: {cells}."


def render_page(template: str, values: Mapping[str, str]) -> str:
    """``template`` with every ``$name`` replaced; a placeholder without a value is an error."""
    try:
        return string.Template(template).substitute(values)
    except KeyError as missing:
        raise ValueError(f"results page template: no value for ${missing.args[0]}") from None
