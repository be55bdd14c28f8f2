"""The cover's provenance and the generation date: SOURCE_DATE_EPOCH or today, so that two
renderings of the same inputs are byte-identical; no project history in the text."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from markupsafe import escape

from trainplan.cli import main
from trainplan.render import report

pytestmark = pytest.mark.pdf   # whole PDFs with WeasyPrint: CI runs them (-m pdf)

EPOCH = "1767225600"   # 2026-01-01T00:00:00Z


def test_generation_date_from_source_date_epoch():
    assert report.generation_date({"SOURCE_DATE_EPOCH": EPOCH}) == "2026-01-01"
    assert report.generation_date({}) == dt.datetime.now(dt.UTC).date().isoformat()


def test_a_bad_source_date_epoch_is_named_with_what_is_allowed():
    with pytest.raises(ValueError, match=r"SOURCE_DATE_EPOCH: 'yesterday' .*whole seconds"):
        report.generation_date({"SOURCE_DATE_EPOCH": "yesterday"})


def test_the_cover_states_date_version_commit_sweep_hash_and_prices(inputs):
    html = report.render_html(inputs["analysis"], inputs["figures"], inputs["launch"],
                              inputs["validation"], generated="2026-01-01")
    cover = html[html.index("<header>"):html.index("</header>")]
    p = inputs["analysis"]["provenance"]
    assert "2026-01-01" in cover
    assert p["trainplan_version"] in cover
    assert (p["commit"][:12] if p["commit"] != "unknown" else "unknown") in cover
    assert p["sweep_sha256"] in cover and "tiny.yaml" in cover
    assert "A100-SXM4-80GB $2.00/GPU-hour" in cover and "set in the sweep" in cover


def test_a_catalog_price_is_shown_with_its_date(inputs):
    a = json.loads(json.dumps(inputs["analysis"]))
    a["provenance"]["prices"] = [{"gpu": "B200", "origin": "catalog", "usd_per_gpu_hour": [7.52],
                                  "source": "week of 2026-04-06", "date": "2026-04-06"}]
    html = report.render_html(a, [], None, None, generated="2026-01-01")
    assert "B200 $7.52/GPU-hour</span> (catalog price of 2026-04-06)" in html


def test_two_renderings_with_the_same_epoch_are_byte_identical(inputs, monkeypatch):
    """The date comes from SOURCE_DATE_EPOCH, the rest of the cover from analysis.json: the
    report rendered again (here: in the same folder) is the same bytes."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out, outs = inputs["out"], []
    for _ in range(2):
        report.write_report(inputs["analysis"], inputs["figures"], inputs["launch"],
                            inputs["validation"], out / "again.html", out / "again.pdf",
                            out_csv=out / "again.csv")
        outs.append([(out / n).read_bytes() for n in ("again.html", "again.pdf", "again.csv")])
    assert outs[0] == outs[1]
    assert b"2026-01-01" in outs[0][0]


def test_the_report_command_refuses_a_bad_epoch_and_writes_nothing(inputs, tmp_path,
                                                                    monkeypatch, capsys):
    """A SOURCE_DATE_EPOCH that is no date: one line naming it, status 2, nothing written."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1.5e9")
    (tmp_path / "analysis.json").write_text(json.dumps(inputs["analysis"]))
    (tmp_path / "figures.json").write_text("[]")
    (tmp_path / "validation.json").write_text(json.dumps(inputs["validation"]))
    status = main(["report", "--analysis", str(tmp_path / "analysis.json"),
                   "--figures", str(tmp_path / "figures.json"),
                   "--validation", str(tmp_path / "validation.json"),
                   "--html", str(tmp_path / "report.html"), "--pdf", str(tmp_path / "report.pdf"),
                   "--csv", str(tmp_path / "scenarios.csv")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "SOURCE_DATE_EPOCH: '1.5e9'" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "analysis.json", "figures.json", "validation.json"]


@pytest.mark.parametrize("phrase", ["computed correctly", "unlike the notebook", "the notebook",
                                    "this project replaced"])
def test_no_project_history_in_the_report(html, phrase):
    text = re.sub(r"<[^>]+>", " ", html).lower()
    assert phrase not in text
    assert str(escape(phrase)) not in html.lower()
