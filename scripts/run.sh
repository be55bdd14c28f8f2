#!/usr/bin/env bash
# Install (if needed) and build every report: snakemake --cores 8 over all sweeps in sweeps/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/snakemake --cores "${CORES:-8}" "$@"
