"""The report as HTML: content from the sweep's analysis, escaping, determinism, the index."""

from __future__ import annotations

import copy

import polars as pl
import pytest
from markupsafe import escape

from trainplan.render import report
from trainplan.validation import runs
from trainplan.validation.text import summary_line


def esc(text: str) -> str:
    return str(escape(text))


def test_html_has_every_section_in_order(html):
    ids = ["summary", "recommendation", "scenarios", "rankings", "use-cases", "scaling",
           "implementation", "figures", "assumptions", "validation"]
    positions = [html.index(f'<section id="{i}">') for i in ids]
    assert positions == sorted(positions)


def test_html_contains_the_recommendation(html, inputs):
    a = inputs["analysis"]
    best = a["reference"]["best"]
    assert esc(a["reference"]["label"]) in html
    assert esc(best["strategy"]) in html
    assert esc(best["layout"]) in html
    assert report.count(best["tokens_per_s"]) in html
    assert report.percent(best["mfu"]) in html
    assert report.money(best["cost_usd"]) in html
    assert report.days(best["time_to_train_days"]) in html
    assert report.count(a["counts"]["feasible"]) in html
    assert inputs["launch"]["torchrun"] in html
    assert esc(inputs["launch"]["deepspeed_config"]) in html


def test_html_contains_rankings_use_cases_scaling_and_validation(html, inputs):
    a = inputs["analysis"]
    for key in ("memory", "compute_efficiency", "communication", "overall"):
        assert f"ranking-{key}" in html
        for item in a["rankings"][key]:
            assert esc(item["layout"]) in html
    for case in a["use_cases"]:
        assert esc(case["text"]) in html
    for band in a["scaling"]:
        assert esc(band["band"]) in html
    for note in a["implementation"]:
        assert esc(note["note"]) in html
    assert summary_line(inputs["results"]) in html
    missing = inputs["results"].filter(~pl.col("represented"))
    for row in missing.iter_rows(named=True):
        assert row["row_id"] in html
    for row in runs.per_source(inputs["results"]).iter_rows(named=True):
        assert f"{row['median_abs_err_pct']:.2f} %" in html
    for f in inputs["figures"]:
        assert f'src="figures/{f["file"]}"' in html
        assert f'alt="{f["title"]}"' in html


def test_sweep_text_is_escaped(inputs):
    a = copy.deepcopy(inputs["analysis"])
    a["title"] = "<script>alert(1)</script> plan"
    a["description"] = 'a "quoted" <b>bold</b> & more'
    a["use_cases"][0]["text"] = "<img src=x onerror=alert(2)>"
    figures = [{**inputs["figures"][0], "caption": "<iframe>"}]
    out = report.render_html(a, figures, {**inputs["launch"], "notes": ["<hr>"]},
                             inputs["validation"])
    assert "<script>alert" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; plan" in out
    assert "<b>bold</b>" not in out and "&lt;b&gt;bold&lt;/b&gt;" in out
    assert "<img src=x" not in out and "<iframe>" not in out and "<hr>" not in out


def test_rendering_is_deterministic(inputs, html):
    again = report.render_html(inputs["analysis"], inputs["figures"], inputs["launch"],
                               inputs["validation"])
    assert again == html


@pytest.mark.pdf
def test_write_report_leaves_no_temporary_files(written):
    html = written["html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert 'href="report.pdf"' in html
    leftovers = [p.name for p in written["html"].parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.pdf
def test_failed_write_leaves_nothing(inputs, tmp_path):
    (tmp_path / "figures").mkdir()
    with pytest.raises(FileNotFoundError, match=r"step_time\.png"):
        report.write_report(inputs["analysis"], inputs["figures"], inputs["launch"],
                            inputs["validation"], tmp_path / "report.html",
                            tmp_path / "report.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures"]


def test_report_without_feasible_configuration(inputs):
    a = copy.deepcopy(inputs["analysis"])
    a.update({"reference": None, "scenarios": [], "rankings": {}, "use_cases": [],
              "scaling": [], "scaling_efficiency": [], "implementation": []})
    out = report.render_html(a, [], None, None)
    assert "there is no recommendation" in out
    assert "No validation results" in out


def test_index_links_every_report(tmp_path, inputs):
    a = inputs["analysis"]
    entries = [{"name": "tiny", "title": "<Tiny> & co", "description": a["description"],
                "html": "tiny/report.html", "pdf": tmp_path / "tiny" / "report.pdf",
                "grid_size": a["grid_size"], "feasible": a["counts"]["feasible"],
                "best_label": a["reference"]["label"]},
               {"name": "other", "title": "Other", "html": "other/report.html",
                "pdf": "other/report.pdf", "grid_size": 10, "feasible": 0,
                "best_label": None}]
    report.write_index(entries, tmp_path / "index.html")
    out = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="tiny/report.html"' in out and 'href="tiny/report.pdf"' in out
    assert 'href="other/report.pdf"' in out
    assert "&lt;Tiny&gt; &amp; co" in out
    assert "1,944" in out
    with pytest.raises(ValueError, match="relative"):
        report.write_index([{**entries[1], "html": "javascript:alert(1)"}],
                           tmp_path / "bad.html")
    assert not (tmp_path / "bad.html").exists()
