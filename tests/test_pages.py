"""Results pages and HTML tables: rendered from the tables, stamped with the jobs that made them."""

import math

import pandas as pd
import pytest

from lwflow.evaluation.pages import published_comparison, render_page, run_stamp
from lwflow.evaluation.tables import to_html, to_markdown


def long_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": "t",
            "row": ["K = 1", "K = 1", "K = 3"],
            "metric": ["kl", "bridge_mass", "kl"],
            "published": [0.04, math.nan, 0.01],
            "mean": [0.02, 0.005, 0.013],
            "std": [0.003, 0.001, 0.002],
            "n_seeds": 5,
            "floor": [math.nan, 0.001, math.nan],
        }
    )


def sidecar(finished: str, commit: str, machine: str) -> dict:
    return {"finished": finished, "lwflow": {"commit": commit}, "machine": machine}


def test_the_stamp_names_date_commit_and_machine_and_lists_every_value_that_differs():
    one = sidecar("2026-12-01T10:00:00+00:00", "a" * 40, "x86_64, 2 CPUs")
    assert run_stamp([one, one]) == f"2026-12-01, commit {'a' * 12}, x86_64, 2 CPUs"
    other = sidecar("2026-12-02T09:00:00+00:00", "b" * 40 + "+dirty", "x86_64, 2 CPUs")
    stamp = run_stamp([one, other])
    assert stamp.startswith("2026-12-01 to 2026-12-02, commit aaaaaaaaaaaa; bbbbbbbbbbbb")
    with pytest.raises(ValueError, match="sidecars"):
        run_stamp([])


def test_the_comparison_counts_beaten_published_means_and_names_the_others():
    sentence = published_comparison(long_table())
    assert sentence.startswith("Reproduced mean below the published value in 1 of 2 cells")
    assert "K = 3, KL(p||q): 0.013 against 0.01" in sentence
    assert published_comparison(long_table().assign(published=math.nan)) == "This table has no published values."


def test_a_page_is_its_template_filled_and_a_missing_value_is_an_error():
    assert (
        render_page("# P\n\n$table\n\nmade $stamp", {"table": "| a |", "stamp": "today"})
        == "# P\n\n| a |\n\nmade today"
    )
    with pytest.raises(ValueError, match=r"no value for \$table"):
        render_page("$table", {"stamp": "today"})


def test_the_html_table_shows_the_same_cells_as_the_markdown_one():
    frame = long_table()
    html = to_html(frame, "Table 1")
    assert "<title>Table 1</title>" in html and "<table" in html
    for cell in ("0.0200 ± 0.0030 (paper 0.0400)", "0.0050 ± 0.0010 (floor 0.0010)", "Mean ± std over 5 seeds"):
        assert cell in html and cell in to_markdown(frame)
    plain = to_html(pd.DataFrame({"parameter": ["x"], "mean": [1.5]}), "summary")
    assert "<td>1.5</td>" in plain


def test_an_html_page_of_several_tables_puts_each_under_its_heading_in_a_box_that_scrolls():
    fits = pd.DataFrame({"model": ["nsf_K2"], "log Z": ["-2.3010 ± 0.0114"]})
    parameters = pd.DataFrame({"model": ["nsf_K2"], "parameter": ["x"], "mean": [1.5]})
    page = to_html({"The fits": fits, "Their parameters": parameters}, "summary")
    assert page.index("<h2>The fits</h2>") < page.index("-2.3010 ± 0.0114") < page.index("<h2>Their parameters</h2>")
    assert page.count("<div class='wide'><table") == 2 and "div.wide{overflow-x:auto}" in page
