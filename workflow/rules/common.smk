# Load and check every sweep when the workflow loads: a bad key, value, catalog name or an
# oversized grid stops the run here, naming the file and key, before any job starts.

from trainplan.schema.inputs import InputError
from trainplan.sweep.grid import Grid
from trainplan.sweep.shard import n_shards
from trainplan.sweep.file import SweepError, load_sweep

import shlex
import sys

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
    return str(SWEEPS[wildcards.sweep].path)


def shard_ids(name):
    return [f"{i:05d}" for i in range(SHARDS[name])]


wildcard_constraints:
    sweep="|".join(sorted(SWEEPS)),
    shard=r"\d{5}",
