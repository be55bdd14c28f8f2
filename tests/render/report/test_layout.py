"""The PDF's tables fit their boxes: WeasyPrint's layout of the report, with the numbers of a
large sweep (costs in billions, 25 million tokens/s, long scenario labels), has no text
outside its cell (no overprint) and no table past the page margin; the scenario table of a
one-scenario sweep has no empty parenthesis; the recommended configuration stays on one page.
"""

from __future__ import annotations

import copy

import pytest

from trainplan.render import report

pytestmark = pytest.mark.pdf   # whole PDFs with WeasyPrint: CI runs them (-m pdf)

OTHER_BLOCKS = {"assumptions", "answer"}
"""Tables of the blocks other work of issue 11 rewrites (the answer table and the
assumptions); their layout is tested with them."""

LARGE = {"cost_usd": 11_912_345_678.0, "tokens_per_s": 25_276_071.0,
         "time_to_train_days": 1_234.5, "step_time_s": 123.4, "memory_gib": 141.0}
LABEL = "llama3-405b, 16,384 x H100-SXM5-80GB, 3,200 Gb/s per node, 72-GPU NVLink domain"


def _walk(box):
    """Every box under ``box``, depth first."""
    yield box
    for child in getattr(box, "children", None) or []:
        yield from _walk(child)


def _kind(box) -> str:
    return type(box).__name__


def _layout(analysis: dict, inputs: dict):
    """The report's PDF layout (WeasyPrint boxes, one tree per page)."""
    from weasyprint import HTML

    html = report.render_html(analysis, inputs["figures"], inputs["launch"],
                              inputs["validation"], for_pdf=True, generated="2026-01-01")
    base = inputs["out"]
    return HTML(string=html, base_url=base.as_uri() + "/",
                url_fetcher=report.url_fetcher(base)).render()


def _outside(document) -> list[tuple]:
    """Text outside its table cell, and tables past the right margin: (table class, text)."""
    found = []
    for page in document.pages:
        root = page._page_box      # WeasyPrint's page box: the laid-out tree of the page
        right = root.content_box_x() + root.width
        for table in (b for b in _walk(root) if _kind(b) == "TableBox"):
            name = table.element.get("class") or ""
            if OTHER_BLOCKS & set(name.split()):
                continue
            if table.position_x + table.margin_width() > right + 0.5:
                found.append((name, "table past the margin"))
            for cell in (b for b in _walk(table) if _kind(b) == "TableCellBox"):
                left = cell.content_box_x()
                for text in (b for b in _walk(cell) if _kind(b) == "TextBox"):
                    if text.position_x < left - 0.5 or \
                            text.position_x + text.width > left + cell.width + 0.5:
                        found.append((name, text.text))
    return found


@pytest.fixture(scope="module")
def large(inputs) -> dict:
    """The tiny sweep's analysis with the numbers and labels of a large sweep."""
    a = copy.deepcopy(inputs["analysis"])
    for s in a["scenarios"]:
        s["label"] = LABEL
        s["best"].update(LARGE)
    a["reference"]["best"].update(LARGE)
    return a


def test_no_text_outside_its_cell_and_no_table_past_the_margin(large, inputs):
    assert _outside(_layout(large, inputs)) == []


def test_the_check_finds_an_overprinted_cell(large, inputs):
    """The check can fail: a numeric column too narrow for its values is found."""
    a = copy.deepcopy(large)
    a["scenarios"][0]["best"]["tokens_per_s"] = 1e40      # 41 digits cannot fit any column
    assert any(name == "scenarios" for name, _ in _outside(_layout(a, inputs)))


def test_one_scenario_has_no_empty_parenthesis(inputs):
    a = copy.deepcopy(inputs["analysis"])
    a["scenario_columns"] = []
    a["scenarios"] = a["scenarios"][:1]
    html = report.render_html(a, [], None, None, generated="2026-01-01")
    section = html[html.index('<section id="scenarios">'):html.index('<section id="rankings">')]
    assert "()" not in section and "in bold" not in section


def test_the_recommended_configuration_is_on_one_page(inputs):
    pages = []
    for number, page in enumerate(_layout(inputs["analysis"], inputs).pages):
        for box in _walk(page._page_box):
            if _kind(box) == "TableBox" and "kv" in (box.element.get("class") or "").split() \
                    and "memory" not in (box.element.get("class") or ""):
                pages.append(number)
    assert len(set(pages)) == 1, pages
