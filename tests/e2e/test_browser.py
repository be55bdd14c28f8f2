"""The HTML reports in a real browser: headless Chromium (Debian's ``chromium`` package,
installed by ``TRAINPLAN_BROWSER=1 ./scripts/bootstrap.sh``) opens each report of the .test
workflow by its file URL in a 1,280 px window and checks that every image loads, nothing is
requested from the network, the console shows no error and no table (or cell) is wider than
its box. A screenshot of each report's first screen is kept (printed path; in
``$TRAINPLAN_ARTEFACTS`` if set, else in the pytest temporary folder).

The browser is driven with the DevTools protocol over a pipe (``--remote-debugging-pipe``:
NUL-separated JSON on file descriptors 3 and 4), so no websocket client or browser-automation
package is needed. Skipped without Chromium, failed instead when TRAINPLAN_BROWSER=1 (CI sets
it, so a broken install cannot pass as a skip).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, TEST_CONFIG

pytestmark = pytest.mark.e2e

WINDOW = (1280, 1000)
"""Width and height of the browser window [CSS px]; the screenshot is this first screen."""

TIMEOUT_S = 60
"""Longest wait for one answer of the browser."""

SWEEPS = ("tiny", "small_dp")

CHECKS = """(() => {
  const width = document.documentElement.clientWidth;
  const describe = (el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : "")
    + (el.closest("section") ? " in #" + el.closest("section").id : "");
  const images = [...document.images];
  const tables = [...document.querySelectorAll("table")];
  const cells = [...document.querySelectorAll("td, th")];
  return JSON.stringify({
    images: new Set(images.map((i) => i.src)).size,
    broken: images.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.src),
    tables: tables.length,
    wide: tables.filter((t) => t.getBoundingClientRect().right > width + 0.5
        || t.getBoundingClientRect().width > width
        || t.parentElement.scrollWidth > t.parentElement.clientWidth + 1)
      .map((t) => describe(t) + " " + Math.round(t.getBoundingClientRect().width) + " px"),
    overflowing: cells.filter((c) => c.scrollWidth > c.clientWidth + 1)
      .map((c) => describe(c.closest("table")) + ": " + c.textContent.trim().slice(0, 40)),
    page_scrolls: document.documentElement.scrollWidth > width,
  });
})()"""
"""What the page reports about itself (evaluated after the load event)."""


def chromium() -> str:
    """The Chromium executable, or a skip (a failure when TRAINPLAN_BROWSER=1)."""
    exe = os.environ.get("TRAINPLAN_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if exe:
        return exe
    reason = ("chromium is not installed (TRAINPLAN_BROWSER=1 ./scripts/bootstrap.sh installs "
              "Debian's package)")
    if os.environ.get("TRAINPLAN_BROWSER") == "1":
        pytest.fail(reason + " but TRAINPLAN_BROWSER=1 asks for the browser test")
    pytest.skip(reason)


class DevTools:
    """Headless Chromium driven with the DevTools protocol over ``--remote-debugging-pipe``."""

    def __init__(self, exe: str, profile: Path):
        to_browser, self._ours_w = os.pipe()
        self._ours_r, from_browser = os.pipe()
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-extensions",
                "--hide-scrollbars", f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--remote-debugging-pipe",
                "about:blank"]
        # the browser reads commands from fd 3 and writes to fd 4 (bash: dash takes fds < 10 only)
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}', *args],
            pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _message(self, deadline: float) -> dict:
        """The next message from the browser (fails after ``deadline`` or if it exits)."""
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._ours_r], [], [], max(0.0, deadline - time.time()))
            if not ready:
                raise AssertionError("the browser did not answer in time")
            chunk = os.read(self._ours_r, 1 << 16)
            if not chunk:
                raise AssertionError(f"the browser exited (status {self.proc.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._ours_w, json.dumps(message).encode() + b"\0")
        deadline = time.time() + TIMEOUT_S
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, event: str) -> dict:
        """The first event named ``event`` (already received or still to come)."""
        deadline = time.time() + TIMEOUT_S
        for e in self.events:
            if e.get("method") == event:
                return e
        while True:
            e = self._message(deadline)
            self.events.append(e)
            if e.get("method") == event:
                return e

    def close(self) -> None:
        """Stop the browser this object started."""
        try:
            self.call("Browser.close")
        except AssertionError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._ours_r)
        os.close(self._ours_w)


def inspect(exe: str, html: Path, profile: Path, screenshot: Path) -> dict:
    """Open ``html`` in a fresh browser; what it requested, logged and reports about itself,
    with a screenshot of the first screen written to ``screenshot``."""
    browser = DevTools(exe, profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1,
                      "mobile": False}, session=session)
        browser.call("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        page = browser.call("Runtime.evaluate", {"expression": CHECKS, "returnByValue": True},
                            session=session)
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
    finally:
        browser.close()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    result = json.loads(page["result"]["value"])
    events = browser.events
    result["requests"] = [e["params"]["request"]["url"] for e in events
                          if e.get("method") == "Network.requestWillBeSent"]
    result["errors"] = (
        [" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
         for e in events if e.get("method") == "Runtime.consoleAPICalled"
         and e["params"]["type"] in ("error", "assert")]
        + [e["params"]["exceptionDetails"].get("text", "") for e in events
           if e.get("method") == "Runtime.exceptionThrown"]
        + [e["params"]["entry"]["text"] for e in events
           if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"])
    return result


@pytest.fixture(scope="module")
def browser_exe() -> str:
    return chromium()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    """Where the screenshots go: ``$TRAINPLAN_ARTEFACTS`` or a pytest temporary folder."""
    kept = os.environ.get("TRAINPLAN_ARTEFACTS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def built(browser_exe, tmp_path_factory) -> Path:
    """The .test workflow run end to end on a copy of .test/config and .test/sweeps."""
    work = tmp_path_factory.mktemp("browser-e2e") / ".test"
    shutil.copytree(TEST_CONFIG / "config", work / "config")
    shutil.copytree(TEST_CONFIG / "sweeps", work / "sweeps")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--directory", str(work),
                           "--cores", "2"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work


@pytest.fixture(scope="module")
def pages(built, browser_exe, artefacts, tmp_path_factory) -> dict[str, dict]:
    """What the browser found in each report of the .test workflow."""
    out = {}
    for sweep in SWEEPS:
        shot = artefacts / f"{sweep}-page1.png"
        folder = built / "reports" / sweep
        out[sweep] = inspect(browser_exe, folder / "report.html",
                             tmp_path_factory.mktemp("chromium-profile"), shot)
        out[sweep]["figures"] = len(json.loads((folder / "figures.json").read_text()))
        print(f"screenshot of page 1 of the {sweep} report: {shot}")
    return out


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_image_loads(pages, sweep):
    page = pages[sweep]
    # every figure is shown (the answer figure twice: on page 1 and among the figures)
    assert page["images"] == page["figures"] > 0
    assert page["broken"] == []


@pytest.mark.parametrize("sweep", SWEEPS)
def test_nothing_is_requested_from_the_network(pages, sweep):
    requests = pages[sweep]["requests"]
    assert requests and all(url.startswith("file:") for url in requests), requests


@pytest.mark.parametrize("sweep", SWEEPS)
def test_the_console_shows_no_error(pages, sweep):
    assert pages[sweep]["errors"] == []


@pytest.mark.parametrize("sweep", SWEEPS)
def test_no_table_is_wider_than_the_window(pages, sweep):
    page = pages[sweep]
    assert page["tables"] > 0
    assert page["wide"] == [] and not page["page_scrolls"], page["wide"]
    assert page["overflowing"] == [], page["overflowing"]


@pytest.mark.parametrize("sweep", SWEEPS)
def test_a_screenshot_of_page_one_is_kept(pages, artefacts, sweep):
    png = (artefacts / f"{sweep}-page1.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == WINDOW


def test_the_checks_catch_a_broken_page(browser_exe, tmp_path):
    """A page with each defect: a missing image, a request to a server, a script error and a
    table wider than the window; every check reports its defect."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="missing.png">'
                    '<img src="http://127.0.0.1:9/remote.png">'
                    '<script>console.error("boom")</script>'
                    '<div><table style="width:2000px"><tr><td>wide</td></tr></table></div>'
                    '<table style="table-layout:fixed;width:200px"><tr>'
                    '<td style="width:20px;white-space:nowrap">$11,999,999,999</td>'
                    '<td>x</td></tr></table></body></html>')
    found = inspect(browser_exe, page, tmp_path / "profile", tmp_path / "shot.png")
    assert len(found["broken"]) == 2
    assert any(url.startswith("http://127.0.0.1:9/") for url in found["requests"])
    assert any("boom" in e for e in found["errors"])
    assert found["wide"] and found["page_scrolls"]
    assert any("$11,999,999,999" in c for c in found["overflowing"])
