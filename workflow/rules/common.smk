# Load and check every sweep when the workflow loads: a bad key, value, catalog name or an
# oversized grid stops the run here, naming the file and key, before any job starts.
# Every helper the rules use lives here.

import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from trainplan.schema.inputs import InputError
from trainplan.sweep.file import SweepError, load_sweep
from trainplan.sweep.grid import Grid
from trainplan.sweep.shard import n_shards

# Jobs run the package with the interpreter that runs Snakemake (the project's .venv), so
# nothing depends on PATH; on a cluster the same path must exist on the compute nodes.
TRAINPLAN = f"{shlex.quote(sys.executable)} -m trainplan.cli"

REPORTS = config["reports_dir"].rstrip("/")
LOGS = config["logs_dir"].rstrip("/")
SWEEPS_DIR = Path(config["sweeps_dir"])


def _load_sweeps():
    if not SWEEPS_DIR.is_dir():
        raise WorkflowError(f"sweeps_dir {SWEEPS_DIR}: no such folder")
    sweeps = {}
    for path in sorted(SWEEPS_DIR.glob("*.yaml")):
        try:
            sweep = load_sweep(path)
            Grid(sweep)  # every value checked against the catalogs and input rules
        except (SweepError, InputError) as err:
            raise WorkflowError(f"bad sweep file: {err}") from None
        sweeps[sweep.name] = sweep
    if not sweeps:
        raise WorkflowError(f"no sweep files (*.yaml) in {SWEEPS_DIR}")
    return sweeps


SWEEPS = _load_sweeps()
SHARDS = {name: n_shards(sweep) for name, sweep in SWEEPS.items()}
KEEPS_ROWS = [name for name, sweep in SWEEPS.items() if sweep.keep in ("all", "feasible")]


def sweep_file(wildcards):
    """The sweep's YAML file."""
    return str(SWEEPS[wildcards.sweep].path)


def shard_ids(name):
    """The five-digit ids of a sweep's shards, as they appear in file names."""
    return [f"{i:05d}" for i in range(SHARDS[name])]


def shard_index(wildcards):
    """The shard's number for `trainplan shard --shard` (the file name's id, as an int)."""
    return int(wildcards.shard)


def rows_sweeps_pattern():
    """The sweeps whose shards also write points/ (a pattern that matches nothing if none)."""
    return "|".join(map(re.escape, KEEPS_ROWS)) if KEEPS_ROWS else "(?!)"


def combine_inputs(wildcards):
    """Every shard's summary and counts, and its points/ part for sweeps that keep rows."""
    ids = shard_ids(wildcards.sweep)
    shards = f"{REPORTS}/{wildcards.sweep}/shards"
    inputs = {
        "summaries": [f"{shards}/{i}.parquet" for i in ids],
        "counts": [f"{shards}/{i}.json" for i in ids],
    }
    if wildcards.sweep in KEEPS_ROWS:
        inputs["points"] = [f"{REPORTS}/{wildcards.sweep}/points/shard={i}" for i in ids]
    return inputs


wildcard_constraints:
    sweep="|".join(map(re.escape, sorted(SWEEPS))),
    shard=r"\d{5}",
