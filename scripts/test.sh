#!/usr/bin/env bash
# Install (if needed) and run the test suite (unit, property, published-number and end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks scripts
exec .venv/bin/python -m pytest "$@"
