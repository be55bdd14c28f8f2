#!/usr/bin/env bash
# Refresh scripts/constraints.txt, the lock of tested dependency versions that
# scripts/bootstrap.sh installs with (pip install -c). Run weekly (.github/workflows/lock.yml)
# or after changing a dependency range in pyproject.toml:
#   1. a fresh venv gets trainplan[test,slurm] at the newest versions pyproject.toml allows;
#   2. ruff, the unit tests and the end-to-end tests run in it (LOCK_E2E=0 skips the latter);
#   3. only if they pass, its versions (scripts/freeze_lock.py) replace scripts/constraints.txt.
# Review and commit the diff; a failing step leaves the old lock in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$VENV")"' EXIT

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[test,slurm]'

"$VENV/bin/ruff" check src tests benchmarks scripts
"$VENV/bin/python" -m pytest -q -p no:cacheprovider
if [ "${LOCK_E2E:-1}" != 0 ]; then
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m e2e
fi

"$VENV/bin/python" scripts/freeze_lock.py test slurm > scripts/constraints.txt.new
mv scripts/constraints.txt.new scripts/constraints.txt
# the editable install above points at this checkout; put .venv back on the lock
if [ -x .venv/bin/python ]; then
    .venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e '.[test]'
fi
git --no-pager diff --stat -- scripts/constraints.txt || true
echo "lock: scripts/constraints.txt refreshed; review and commit it"
