"""The sweep report: one HTML page and one PDF from the same Jinja2 templates.

Every number in a report comes from ``analysis.json`` (built by
:mod:`trainplan.analysis`), the validation summary and the launch material; the
templates only format them (:mod:`.filters`) from the context of :mod:`.context`.
All sweep-provided text is escaped by Jinja's autoescape. The PDF is rendered
offline (:mod:`.pdf`).

* :func:`render_html` -- the report as an HTML string;
* :func:`write_report` -- ``report.html`` and ``report.pdf``, written atomically;
* :func:`write_index` -- ``reports/index.html`` linking every report;
* :func:`generation_date` -- the date on the cover (``SOURCE_DATE_EPOCH`` or today).

The templates are the project's top-level ``templates/`` folder, shipped in the wheel
as ``trainplan/templates`` (see :func:`templates_dir`).
"""

from __future__ import annotations

import datetime as dt
import os
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from trainplan import atomic
from trainplan.render.report.context import context, figure_entries
from trainplan.render.report.filters import (
    DASH,
    FILTERS,
    GIB,
    count,
    days,
    duration,
    gib,
    is_missing,
    money,
    na,
    num,
    percent,
    yesno,
)
from trainplan.render.report.pdf import RefusedURL, render_pdf, url_fetcher
from trainplan.render.report.scenarios import scenarios_csv

__all__ = ["DASH", "FILTERS", "FONT_STACK", "GIB", "TEMPLATES", "RefusedURL", "context", "count",
           "days", "duration", "environment", "generation_date", "gib", "money", "na", "num",
           "percent", "render_html", "render_pdf", "templates_dir", "url_fetcher",
           "write_index", "write_report", "yesno"]

FONT_STACK = '"DejaVu Sans", sans-serif'
"""The font family of ``report.css`` (local fonts: Debian's fonts-dejavu-core)."""


def templates_dir() -> Path:
    """The folder of the report templates (``report.html.j2``, ``index.html.j2``,
    ``report.css``).

    In order: the environment variable ``TRAINPLAN_TEMPLATES``; the package data
    ``trainplan/templates`` of an installed wheel (found with :mod:`importlib.resources`);
    the top-level ``templates/`` of the source checkout this module runs from (an
    editable install or ``src/`` on the path).
    """
    override = os.environ.get("TRAINPLAN_TEMPLATES")
    if override:
        return Path(override)
    shipped = resources.files("trainplan") / "templates"
    if shipped.is_dir():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[4] / "templates"


TEMPLATES = templates_dir()
"""The templates folder found by :func:`templates_dir` when this module was imported."""


def generation_date(environ: dict[str, str] | None = None) -> str:
    """The date a report states it was generated on, ``YYYY-MM-DD`` (UTC).

    ``SOURCE_DATE_EPOCH`` (seconds since 1970-01-01 UTC, the reproducible-builds convention),
    if set, else today. Everything else on the cover comes from ``analysis.json`` and is
    deterministic, so two renderings of the same inputs on the same day, or with the same
    ``SOURCE_DATE_EPOCH``, are byte-identical. A value that is not a whole number of seconds
    raises ValueError.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return dt.datetime.now(dt.UTC).date().isoformat()
    try:
        when = dt.datetime.fromtimestamp(int(text), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"SOURCE_DATE_EPOCH: {text!r} is not a date; allowed: whole seconds "
                         "since 1970-01-01 UTC, e.g. 1767225600") from None
    return when.date().isoformat()


def environment(templates: Path = TEMPLATES) -> Environment:
    """The Jinja environment of the report templates (autoescape on for ``.html``/``.j2``)."""
    env = Environment(loader=FileSystemLoader(str(templates)),
                      autoescape=select_autoescape(enabled_extensions=("html", "j2"),
                                                   default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env


def _stylesheet(templates: Path = TEMPLATES) -> Markup:
    """``report.css`` as trusted markup for an inline ``<style>`` (our file, not sweep text)."""
    css = (templates / "report.css").read_text(encoding="utf-8")
    if "</" in css:
        raise ValueError("report.css must not contain '</'")
    return Markup(css)


def render_html(analysis: dict, figures: list[dict], launch: dict | None,
                validation: dict | None, for_pdf: bool = False, *,
                pdf_name: str | None = None, generated: str | None = None,
                csv_name: str | None = None, launches: list | None = None,
                zip_name: str | None = None) -> str:
    """The report as HTML. Figures are referenced as ``figures/<file>`` relative to the
    report; ``for_pdf`` only changes print-specific bits (table of contents with page
    numbers, no link to the PDF). ``pdf_name``, if given, adds a link to the PDF version,
    ``csv_name`` one to the scenario table as CSV, ``zip_name`` one to the launch material
    of every scenario (``launches``, shown in the appendix); ``generated`` is the date on the
    cover (default: :func:`generation_date`)."""
    template = environment().get_template("report.html.j2")
    return template.render(**context(analysis, figures, launch, validation, css=_stylesheet(),
                                     for_pdf=for_pdf, pdf_name=None if for_pdf else pdf_name,
                                     generated=generated or generation_date(),
                                     launches=launches, zip_name=zip_name,
                                     csv_name=csv_name))


def write_report(analysis: dict, figures: list[dict], launch: dict | None,
                 validation: dict | None, out_html: Path, out_pdf: Path, *,
                 out_csv: Path | None = None, generated: str | None = None,
                 launches: list | None = None, out_zip: Path | None = None,
                 zip_bytes: bytes | None = None) -> None:
    """Write the report as ``out_html`` and ``out_pdf`` (and, if ``out_csv`` is given, the
    scenario table as CSV, see :func:`~trainplan.render.report.scenarios.scenarios_csv`;
    with ``launches`` (the :class:`~trainplan.launch.bundle.ScenarioLaunch` of every
    scenario winner, shown in the appendix), ``out_zip`` and ``zip_bytes`` (their files as a
    zip, :func:`~trainplan.launch.bundle.bundle_zip`), the zip, which the PDF also carries as
    an attachment and the HTML links).
    Figures must sit in ``figures/`` next to ``out_html`` (checked first). The files are
    rendered in memory, then written atomically: a failure leaves neither a partial file
    nor a half-updated set."""
    out_html, out_pdf = Path(out_html), Path(out_pdf)
    base = out_html.parent.resolve()
    missing = [f["file"] for f in figure_entries(figures)
               if not (base / "figures" / f["file"]).is_file()]
    if missing:
        raise FileNotFoundError(f"figures missing in {base / 'figures'}: {', '.join(missing)}")
    generated = generated or generation_date()
    pdf_name = out_pdf.name if out_pdf.parent.resolve() == base else None
    csv_name = (Path(out_csv).name if out_csv is not None
                and Path(out_csv).parent.resolve() == base else None)
    zip_name = (Path(out_zip).name if out_zip is not None
                and Path(out_zip).parent.resolve() == base else None)
    bundle = zip_bytes if out_zip is not None else None
    html = render_html(analysis, figures, launch, validation, pdf_name=pdf_name,
                       generated=generated, csv_name=csv_name, launches=launches,
                       zip_name=zip_name)
    attachments = [] if bundle is None else [(Path(out_zip).name, bundle)]
    pdf = render_pdf(render_html(analysis, figures, launch, validation, for_pdf=True,
                                 generated=generated, launches=launches,
                                 zip_name=Path(out_zip).name if bundle else None),
                     base, attachments=attachments, date=generated)
    files = [(out_html, html.encode("utf-8")), (out_pdf, pdf)]
    if out_csv is not None:
        files.append((Path(out_csv), scenarios_csv(analysis).encode("utf-8")))
    if bundle is not None:
        files.append((Path(out_zip), bundle))
    atomic.write_many(files)


def _relative_href(value: Any, start: Path) -> str | None:
    """A link of the index relative to ``start`` (absolute paths made relative; URLs refused)."""
    if is_missing(value):
        return None
    text = str(value)
    if urlsplit(text).scheme and not Path(text).is_absolute():
        raise ValueError(f"index links must be relative paths, not URLs: {text!r}")
    path = Path(text)
    if path.is_absolute():
        path = Path(os.path.relpath(path.resolve(), start.resolve()))
    return quote(path.as_posix(), safe="/")


def write_index(entries: list[dict], out_html: Path) -> None:
    """``reports/index.html``: one row per report (entry keys: name, title, description,
    html, pdf, grid_size, feasible, best_label), links relative to the index."""
    out_html = Path(out_html)
    keys = ("name", "title", "description", "grid_size", "feasible", "best_label")
    rows = []
    for e in entries:
        rows.append({**{k: e.get(k) for k in keys},
                     "html": _relative_href(e.get("html"), out_html.parent),
                     "pdf": _relative_href(e.get("pdf"), out_html.parent)})
    html = environment().get_template("index.html.j2").render(entries=rows, css=_stylesheet())
    atomic.write_bytes(out_html, html.encode("utf-8"))
