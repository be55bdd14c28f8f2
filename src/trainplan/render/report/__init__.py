"""The sweep report: one HTML page and one PDF from the same Jinja2 templates.

Every number in a report comes from ``analysis.json`` (built by
:mod:`trainplan.analysis`), the validation results and the launch material; the
templates only format them. All sweep-provided text is escaped by Jinja's
autoescape. The PDF is rendered by WeasyPrint without any network access: the
URL fetcher only opens ``file://`` URLs inside the report directory and fonts come
from the system (DejaVu Sans).

* :func:`render_html` -- the report as an HTML string;
* :func:`write_report` -- ``report.html`` and ``report.pdf``, written atomically;
* :func:`write_index` -- ``reports/index.html`` linking every report.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from urllib.request import url2pathname

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.runtime import Undefined
from markupsafe import Markup

GIB = 2.0**30
DASH = "–"
"""What a missing value (None, NaN, undefined) is shown as."""

TEMPLATES = Path(os.environ.get("TRAINPLAN_TEMPLATES")
                 or Path(__file__).resolve().parents[4] / "templates")
"""``templates/`` of the project (``report.html.j2``, ``index.html.j2``, ``report.css``);
the environment variable ``TRAINPLAN_TEMPLATES`` points elsewhere."""

FONT_STACK = '"DejaVu Sans", sans-serif'
"""The font family of ``report.css`` (local fonts: Debian's fonts-dejavu-core)."""

# --------------------------------------------------------------------------- filters


def _missing(value: Any) -> bool:
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _float(value: Any) -> float | None:
    if _missing(value) or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def na(value: Any) -> Any:
    """``value`` itself, or "–" for None, NaN, an empty string or an undefined value."""
    return DASH if _missing(value) else value


def num(value: Any, spec: str = ",.2f", suffix: str = "") -> str:
    """``format(value, spec) + suffix``, or "–"."""
    x = _float(value)
    return DASH if x is None else format(x, spec) + suffix


def count(value: Any) -> str:
    """A large count with thousands separators: ``1,234,567``."""
    x = _float(value)
    return DASH if x is None else f"{round(x):,}"


def gib(value: Any, digits: int = 1) -> str:
    """Bytes as GiB: ``59.2 GiB``."""
    x = _float(value)
    return DASH if x is None else f"{x / GIB:,.{digits}f} GiB"


def duration(value: Any) -> str:
    """Seconds in the most readable unit: ``0.412 s``, ``13.0 s``, ``2.5 min``, ``3.1 h``."""
    x = _float(value)
    if x is None:
        return DASH
    ax = abs(x)
    if ax < 1:
        return f"{x:.3g} s"
    if ax < 60:
        return f"{x:.1f} s" if ax >= 10 else f"{x:.2f} s"
    if ax < 3600:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:,.1f} h"


def days(value: Any) -> str:
    """Days: ``28.8 days``; under a day in hours."""
    x = _float(value)
    if x is None:
        return DASH
    if abs(x) < 1:
        return f"{x * 24:.1f} h"
    return f"{x:,.1f} days"


def percent(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.662`` -> ``66.2 %``."""
    x = _float(value)
    return DASH if x is None else f"{x * 100:.{digits}f} %"


def money(value: Any) -> str:
    """US dollars with thousands separators: ``$22,107``; cents only under $100."""
    x = _float(value)
    if x is None:
        return DASH
    sign = "-" if x < 0 else ""
    return f"{sign}${abs(x):,.2f}" if abs(x) < 100 else f"{sign}${abs(x):,.0f}"


def yesno(value: Any) -> str:
    if _missing(value):
        return DASH
    if isinstance(value, str):
        return value
    return "yes" if value else "no"


FILTERS = {"na": na, "num": num, "count": count, "gib": gib, "duration": duration,
           "days": days, "percent": percent, "money": money, "yesno": yesno}


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


# --------------------------------------------------------------------------- context


def _figure_entries(figures: Iterable[dict]) -> list[dict]:
    out = []
    for i, f in enumerate(figures or [], start=1):
        file = str(f["file"])
        if not file or PurePosixPath(file).name != file or file in (".", "..") or "\\" in file:
            raise ValueError(f"figure file must be a plain file name in figures/: {file!r}")
        out.append({"number": i, "name": f.get("name") or file, "file": file,
                    "src": "figures/" + file, "title": f.get("title") or "",
                    "caption": f.get("caption") or ""})
    return out


def _validation_context(validation: dict | None) -> dict | None:
    """The validation summary (``validation.json``) grouped by source for the template."""
    if validation is None:
        return None
    rows = validation["rows"]
    represented = [r for r in rows if r["represented"]]
    groups: list[dict] = []
    for r in represented:
        if not groups or groups[-1]["source"] != r["source"]:
            groups.append({"source": r["source"], "rows": []})
        groups[-1]["rows"].append(r)
    medians = validation["per_source"]
    median_of = {m["source"]: m for m in medians}
    for g in groups:
        g["median"] = median_of.get(g["source"], {}).get("median_abs_err_pct")
        g["n"] = median_of.get(g["source"], {}).get("n", 0)
    oom = [r for r in rows if r["represented"] and (r["measured_oom"] or "") == "yes"]
    return {
        "groups": groups,
        "represented": len(represented),
        "rows": len(rows),
        "missing": [r for r in rows if not r["represented"]],
        "per_source": medians,
        "oom_runs": len(oom),
        "oom_caught": sum(1 for r in oom if r["predicted_fits"] is False),
        "derived": sum(1 for r in represented if r["step_time_kind"] == "derived"),
        "summary_line": validation["summary_line"],
    }


def _assumption_groups(assumptions: list[dict]) -> list[dict]:
    groups: list[dict] = []
    for a in assumptions or []:
        for g in groups:
            if g["group"] == a["group"]:
                g["items"].append(a)
                break
        else:
            groups.append({"group": a["group"], "items": [a]})
    return groups


def _rankings(rankings: dict) -> list[dict]:
    """The four rankings with their metric; infeasible entries keep no rank except in the
    memory ranking (which ranks every strategy by its need)."""
    spec = (("overall", "Overall (step time)", "step_time_s", "Step time"),
            ("compute_efficiency", "Compute efficiency (MFU)", "mfu", "MFU"),
            ("communication", "Communication (exposed per step)", "exposed_comm_s",
             "Exposed comm."),
            ("memory", "Memory per GPU", "memory_gib", "Memory / GPU"))
    out = []
    for key, title, metric, label in spec:
        items = rankings.get(key) or []
        rank, rows = 0, []
        for item in items:
            ranked = item["feasible"] or key == "memory"
            if ranked:
                rank += 1
            rows.append({"rank": rank if ranked else None, "item": item})
        out.append({"key": key, "title": title, "metric": metric, "label": label,
                    "rows": rows})
    return out


def context(analysis: dict, figures: list[dict], launch: dict | None,
            validation: dict | None, for_pdf: bool = False,
            pdf_name: str | None = None) -> dict:
    """Everything the report template needs (computed from the inputs, no new numbers)."""
    ref = analysis.get("reference")
    counts = analysis.get("counts") or {}
    configurations = counts.get("configurations") or analysis.get("grid_size") or 0
    reasons = [{"reason": k, "count": v, "share": (v / configurations if configurations else None)}
               for k, v in (counts.get("reasons") or {}).items()]
    scaling_eff: list[dict] = []
    for r in analysis.get("scaling_efficiency") or []:
        key = (r["model"], r["gpu"])
        if not scaling_eff or scaling_eff[-1]["key"] != key:
            scaling_eff.append({"key": key, "model": r["model"], "gpu": r["gpu"], "rows": []})
        scaling_eff[-1]["rows"].append(r)
    return {
        "a": analysis,
        "ref": ref,
        "best": ref["best"] if ref else None,
        "cfg": (ref.get("config") or {}) if ref else {},
        "counts": counts,
        "configurations": configurations,
        "feasible_share": (counts.get("feasible", 0) / configurations if configurations
                           else None),
        "reasons": reasons,
        "rankings": _rankings(analysis.get("rankings") or {}),
        "scaling_eff": scaling_eff,
        "assumption_groups": _assumption_groups(analysis.get("assumptions") or []),
        "figures": _figure_entries(figures),
        "launch": launch,
        "v": _validation_context(validation),
        "for_pdf": for_pdf,
        "pdf_name": pdf_name,
        "css": _stylesheet(),
    }


def render_html(analysis: dict, figures: list[dict], launch: dict | None,
                validation: dict | None, for_pdf: bool = False, *,
                pdf_name: str | None = None) -> str:
    """The report as HTML. Figures are referenced as ``figures/<file>`` relative to the
    report; ``for_pdf`` only changes print-specific bits (table of contents with page
    numbers, no link to the PDF). ``pdf_name``, if given, adds a link to the PDF version."""
    template = environment().get_template("report.html.j2")
    return template.render(**context(analysis, figures, launch, validation, for_pdf,
                                     None if for_pdf else pdf_name))


# --------------------------------------------------------------------------- PDF


class RefusedURL(ValueError):
    """A URL the report's PDF renderer may not fetch (not a local file of the report)."""


def _url_fetcher_class():
    from weasyprint.urls import URLFetcher

    class LocalFileFetcher(URLFetcher):
        """Opens ``file://`` URLs inside ``root`` and refuses everything else (any refusal
        stops the rendering: a plan must never silently lose a figure)."""

        def __init__(self, root: Path):
            super().__init__(allowed_protocols=("file",), allow_redirects=False,
                             fail_on_errors=True)
            self.root = Path(root).resolve()

        def local_path(self, url: str) -> Path:
            parts = urlsplit(url)
            if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
                raise RefusedURL(f"refused to fetch {url!r}: only local files of the report")
            path = Path(url2pathname(unquote(parts.path))).resolve()
            if not path.is_relative_to(self.root):
                raise RefusedURL(f"refused to fetch {url!r}: outside {self.root}")
            return path

        def fetch(self, url, headers=None):
            self.local_path(url)
            return super().fetch(url, headers)

    return LocalFileFetcher


def url_fetcher(root: Path):
    """A WeasyPrint URL fetcher that only opens ``file://`` URLs under ``root``; anything
    else (http, https, data, files elsewhere) raises :class:`RefusedURL`."""
    return _url_fetcher_class()(root)


def render_pdf(html: str, base_dir: Path) -> bytes:
    """The PDF of ``html`` (relative URLs resolve against ``base_dir``) as bytes."""
    from weasyprint import HTML

    base_dir = Path(base_dir).resolve()
    document = HTML(string=html, base_url=base_dir.as_uri() + "/",
                    url_fetcher=url_fetcher(base_dir))
    return document.write_pdf()


# --------------------------------------------------------------------------- writing


def _atomic_write_all(outputs: list[tuple[Path, bytes]]) -> None:
    """Write every file to a temporary name next to it, then rename them all; on failure
    nothing is left behind (and existing files are untouched)."""
    temps: list[tuple[Path, Path]] = []
    umask = os.umask(0)
    os.umask(umask)
    try:
        for path, data in outputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps.append((Path(tmp), path))
            os.fchmod(fd, 0o666 & ~umask)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def write_report(analysis: dict, figures: list[dict], launch: dict | None,
                 validation: dict | None, out_html: Path, out_pdf: Path) -> None:
    """Write the report as ``out_html`` and ``out_pdf``. Figures must sit in ``figures/``
    next to ``out_html`` (checked first). Both files are rendered in memory, then written
    atomically: a failure leaves neither a partial file nor a half-updated pair."""
    out_html, out_pdf = Path(out_html), Path(out_pdf)
    base = out_html.parent.resolve()
    missing = [f["file"] for f in _figure_entries(figures)
               if not (base / "figures" / f["file"]).is_file()]
    if missing:
        raise FileNotFoundError(f"figures missing in {base / 'figures'}: {', '.join(missing)}")
    pdf_name = out_pdf.name if out_pdf.parent.resolve() == base else None
    html = render_html(analysis, figures, launch, validation, pdf_name=pdf_name)
    pdf = render_pdf(render_html(analysis, figures, launch, validation, for_pdf=True), base)
    _atomic_write_all([(out_html, html.encode("utf-8")), (out_pdf, pdf)])


def _relative_href(value: Any, start: Path) -> str | None:
    """A link of the index: a path relative to the index (absolute paths are made relative;
    URLs with a scheme are refused)."""
    if _missing(value):
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
    _atomic_write_all([(out_html, html.encode("utf-8"))])
