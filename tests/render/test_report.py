"""The HTML/PDF report: content from the sweep's analysis, escaping, offline PDF, determinism."""

from __future__ import annotations

import copy
import io
import json
import math
import re
import struct
import zlib

import polars as pl
import pytest
from conftest import TEST_SWEEPS
from markupsafe import escape

from trainplan import analysis
from trainplan.render import report
from trainplan.sweep import combine, shard
from trainplan.sweep.file import load_sweep
from trainplan.validation import runs
from trainplan.validation.text import summary_json, summary_line

SWEEP = TEST_SWEEPS / "tiny.yaml"


def esc(text: str) -> str:
    return str(escape(text))


def _png(width: int, height: int, grey: int) -> bytes:
    """A tiny valid greyscale PNG (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("report")
    shard.run_shard(SWEEP, 0, tmp / "shards" / "0.parquet", None)
    combine.combine_dir([tmp / "shards" / "0.parquet"], tmp)
    a = analysis.analyse(load_sweep(SWEEP), pl.read_parquet(tmp / "best.parquet"),
                         json.loads((tmp / "counts.json").read_text()))
    # what the pipeline hands over: analysis.json as read back from disk
    a = json.loads(json.dumps(a))
    results = runs.predict_runs(runs.read_runs(runs.shipped_runs_path()))
    # what the pipeline hands over: validation.json as read back from disk
    validation = json.loads(json.dumps(summary_json(results)))
    out = tmp / "reports" / "tiny"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "step_time.png").write_bytes(_png(40, 20, 90))
    (out / "figures" / "memory.png").write_bytes(_png(30, 30, 160))
    figures = [
        {"name": "step_time", "file": "step_time.png", "title": "Step time per strategy",
         "caption": "Best layout of each strategy in the reference scenario."},
        {"name": "memory", "file": "memory.png", "title": "Memory per GPU",
         "caption": "Weights, gradients, optimizer states & activations."},
    ]
    launch = {"torchrun": "torchrun --nnodes 2 --nproc-per-node 8 train.py --tp 2 --pp 1",
              "deepspeed_config": '{"zero_optimization": {"stage": 1}}',
              "deepspeed": "deepspeed --num_nodes 2 train.py",
              "notes": ["keep tp inside one node"]}
    return {"analysis": a, "figures": figures, "launch": launch, "validation": validation,
            "results": results, "out": out}


@pytest.fixture(scope="module")
def html(inputs) -> str:
    return report.render_html(inputs["analysis"], inputs["figures"], inputs["launch"],
                              inputs["validation"])


@pytest.fixture(scope="module")
def written(inputs) -> dict:
    out = inputs["out"]
    report.write_report(inputs["analysis"], inputs["figures"], inputs["launch"],
                        inputs["validation"], out / "report.html", out / "report.pdf")
    return {"html": out / "report.html", "pdf": out / "report.pdf"}


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


def test_figure_files_must_be_plain_names(inputs):
    bad = [{**inputs["figures"][0], "file": "../../etc/passwd"}]
    with pytest.raises(ValueError, match="plain file name"):
        report.render_html(inputs["analysis"], bad, inputs["launch"], inputs["validation"])


def test_rendering_is_deterministic(inputs, html):
    again = report.render_html(inputs["analysis"], inputs["figures"], inputs["launch"],
                               inputs["validation"])
    assert again == html


def test_pdf_is_written_with_the_recommendation_and_summary_line(written, inputs):
    from pypdf import PdfReader

    data = written["pdf"].read_bytes()
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 3
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    assert inputs["analysis"]["reference"]["best"]["strategy"] in flat
    assert summary_line(inputs["results"]) in flat
    assert "Page 1 of" in flat


def test_write_report_leaves_no_temporary_files(written):
    html = written["html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert 'href="report.pdf"' in html
    leftovers = [p.name for p in written["html"].parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_failed_write_leaves_nothing(inputs, tmp_path):
    (tmp_path / "figures").mkdir()
    with pytest.raises(FileNotFoundError, match=r"step_time\.png"):
        report.write_report(inputs["analysis"], inputs["figures"], inputs["launch"],
                            inputs["validation"], tmp_path / "report.html",
                            tmp_path / "report.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures"]


def test_url_fetcher_refuses_anything_but_local_report_files(inputs, written):
    root = inputs["out"]
    fetch = report.url_fetcher(root)
    for url in ("http://example.com/font.woff2", "https://fonts.googleapis.com/css",
                "data:text/plain,hi", "file:///etc/passwd",
                (root / ".." / "secret.png").as_uri(), "file://otherhost" + str(root)):
        with pytest.raises(report.RefusedURL):
            fetch(url)
    response = fetch((root / "figures" / "step_time.png").resolve().as_uri())
    try:
        assert response.read().startswith(b"\x89PNG")
    finally:
        response.close()


def test_html_makes_no_external_reference(written):
    html = written["html"].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?[a-z][a-z0-9+.-]*:""", html, re.I)
    assert "@import" not in html and "url(" not in html and "@font-face" not in html


def test_filters():
    assert report.gib(63618731520) == "59.2 GiB"
    assert report.duration(0.4123) == "0.412 s"
    assert report.duration(13.04) == "13.0 s"
    assert report.duration(150) == "2.5 min"
    assert report.duration(3 * 3600) == "3.0 h"
    assert report.days(28.786) == "28.8 days"
    assert report.percent(0.6616) == "66.2 %"
    assert report.money(22107.3) == "$22,107"
    assert report.money(2.0) == "$2.00"
    assert report.count(1234567.0) == "1,234,567"
    for f in (report.gib, report.duration, report.days, report.percent, report.money,
              report.count, report.na):
        assert f(None) == "–"
        assert f(math.nan) == "–"
    assert report.na(0) == 0


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
