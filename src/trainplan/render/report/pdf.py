"""The PDF of a report, rendered by WeasyPrint without any network access.

The URL fetcher only opens ``file://`` URLs inside the report directory; anything else
stops the rendering (a plan must never silently lose a figure). Fonts come from the
system (DejaVu Sans).

The document's base URL is the constant :data:`BASE_URL`, which the fetcher maps to the
report directory: WeasyPrint names each image in the PDF after a hash of its URL, so with the
real directory as base the bytes would depend on where the report was written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

BASE_URL = "file:///trainplan-report/"
"""The base URL every report is rendered against (stands for the report directory)."""


class RefusedURL(ValueError):
    """A URL the report's PDF renderer may not fetch (not a local file of the report)."""


def _url_fetcher_class():
    """The local-file fetcher class (WeasyPrint is imported only when a PDF is made)."""
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
            local = url2pathname(unquote(parts.path))
            virtual = url2pathname(urlsplit(BASE_URL).path)
            if local.startswith(virtual):      # relative to the report (see BASE_URL)
                local = str(self.root / local.removeprefix(virtual))
            path = Path(local).resolve()
            if not path.is_relative_to(self.root):
                raise RefusedURL(f"refused to fetch {url!r}: outside {self.root}")
            return path

        def fetch(self, url, headers=None):
            return super().fetch(self.local_path(url).as_uri(), headers)

    return LocalFileFetcher


def url_fetcher(root: Path):
    """A WeasyPrint URL fetcher that only opens ``file://`` URLs under ``root``; anything
    else (http, https, data, files elsewhere) raises :class:`RefusedURL`."""
    return _url_fetcher_class()(root)


def render_pdf(html: str, base_dir: Path, attachments: list[tuple[str, bytes]] = (),
               date: str | None = None) -> bytes:
    """The PDF of ``html`` (relative URLs resolve against ``base_dir``) as bytes.

    ``attachments`` are (file name, bytes) embedded as PDF file attachments, stamped with
    ``date`` (``YYYY-MM-DD``, the report's generation date; 1980-01-01 without one) so that
    the bytes never depend on the time of rendering.
    """
    from weasyprint import HTML, Attachment

    base_dir = Path(base_dir).resolve()
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=url_fetcher(base_dir))
    stamp = dt.datetime.fromisoformat(date or "1980-01-01").replace(tzinfo=dt.UTC)
    files = [Attachment(string=data, name=name, description=name, created=stamp,
                        modified=stamp, base_url=BASE_URL) for name, data in attachments]
    return document.write_pdf(attachments=files)
