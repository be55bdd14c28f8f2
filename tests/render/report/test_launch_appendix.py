"""The appendix with every scenario's launch material: linked zip in the HTML, attached zip in
the PDF, and the report command's --best / --launch-zip pair."""

from __future__ import annotations

import json

import polars as pl
import pytest
from pypdf import PdfReader

from trainplan.cli import main
from trainplan.launch.bundle import bundle_zip, scenario_launches
from trainplan.render import report

pytestmark = pytest.mark.pdf   # whole PDFs with WeasyPrint: CI runs them (-m pdf)


def _launches(inputs):
    winners = pl.read_parquet(inputs["best"]).filter(pl.col("rank_in_scenario") == 1)
    return scenario_launches(winners.iter_rows(named=True), inputs["analysis"]["scenarios"],
                             "tiny")


def test_every_scenario_winner_is_in_the_appendix_and_the_attached_zip(inputs):
    out, launches = inputs["out"], _launches(inputs)
    assert len(launches) == len([s for s in inputs["analysis"]["scenarios"] if s["best"]])
    report.write_report(inputs["analysis"], inputs["figures"], inputs["launch"],
                        inputs["validation"], out / "l.html", out / "l.pdf",
                        launches=launches, out_zip=out / "launch.zip",
                        zip_bytes=bundle_zip(launches))
    html = (out / "l.html").read_text()
    assert 'href="launch.zip" download' in html
    for s in launches:
        assert f'id="launch-{s.folder}"' in html
    attached = PdfReader(out / "l.pdf").attachments
    assert list(attached) == ["launch.zip"]
    assert attached["launch.zip"][0] == (out / "launch.zip").read_bytes()


def test_best_and_launch_zip_go_together(inputs, tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(inputs["analysis"]))
    (tmp_path / "f.json").write_text("[]")
    (tmp_path / "v.json").write_text(json.dumps(inputs["validation"]))
    status = main(["report", "--analysis", str(tmp_path / "a.json"), "--figures",
                   str(tmp_path / "f.json"), "--validation", str(tmp_path / "v.json"),
                   "--html", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "r.pdf"),
                   "--best", str(inputs["best"])])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "--launch-zip" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "f.json", "v.json"]
