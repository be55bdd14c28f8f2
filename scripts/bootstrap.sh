#!/usr/bin/env bash
# Set up everything trainplan needs on a fresh Debian/Ubuntu machine (idempotent):
# the system libraries WeasyPrint needs (Pango, fonts), a virtual environment in .venv,
# and trainplan with its test dependencies installed into it at the locked versions; with
# TRAINPLAN_BROWSER=1 also Debian's chromium, for the browser test of the HTML reports.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "bootstrap: trainplan needs Python >= 3.11 ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bootstrap: installing $* with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    else
        echo "bootstrap: please install the system packages: $* (e.g. sudo apt-get install $*)" >&2
        exit 1
    fi
}

# WeasyPrint renders the PDF reports with Pango and HarfBuzz; DejaVu is the report font.
if ! ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' \
   || ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so' \
   || ! ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so' \
   || [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
fi

# The browser test (tests/e2e/test_browser.py) opens the HTML reports in Debian's headless
# Chromium; installed only when asked for: TRAINPLAN_BROWSER=1 ./scripts/bootstrap.sh
if [ "${TRAINPLAN_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null; then
    apt_install chromium
fi

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        apt_install python3-venv
        "$PYTHON" -m venv .venv
    fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
# The tested versions (scripts/constraints.txt, refreshed by scripts/lock.sh): a new major
# release of a dependency cannot break a fresh install. TRAINPLAN_UNLOCKED=1 installs the
# newest versions pyproject.toml allows instead.
if [ "${TRAINPLAN_UNLOCKED:-0}" = 1 ]; then
    .venv/bin/python -m pip install --quiet -e '.[test]'
else
    .venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e '.[test]'
fi
echo "bootstrap: ready (.venv)"
