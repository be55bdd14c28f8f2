#!/usr/bin/env bash
# Install (if needed), run ruff and the unit tests (unit, property and published-number tests).
# The end-to-end and SLURM tests: pytest -m e2e, pytest -m slurm (.ci/run runs all of them).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks scripts
exec .venv/bin/python -m pytest "$@"
