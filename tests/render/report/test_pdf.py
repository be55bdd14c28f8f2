"""The PDF: written with the recommendation, offline (only local files of the report)."""

from __future__ import annotations

import io
import re

import pytest

from trainplan.render import report
from trainplan.validation.text import summary_line

pytestmark = pytest.mark.pdf   # whole PDFs with WeasyPrint: CI runs them (-m pdf)


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
