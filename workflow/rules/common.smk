# Load and check every sweep when the workflow loads: a bad key, value, catalog name or an
# oversized grid stops the run here with one line on stderr naming the file and key, before
# any job starts. Every helper the rules use lives here.
#
# The parse is on the path of every run, no-op reruns included, so it stays cheap: a sweep
# whose bytes and trainplan's code are unchanged since its last successful check is taken
# from .snakemake/trainplan/sweeps.json (shard count and keep) without importing numpy or
# building its grid. Outputs that are damaged on disk (truncated Parquet, PNG or PDF,
# unparsable JSON) are removed here, so that the run re-makes them instead of trusting them.

import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

# Jobs run the package with the interpreter that runs Snakemake (the project's .venv), so
# nothing depends on PATH; on a cluster the same path must exist on the compute nodes. The
# rules put it into their shell command, not into params: Snakemake imports pandas to compare
# the params of every job with its records (about 0.4 s of every no-op run), and the rules
# have no params left. (Braces are doubled: the command goes through str.format.)
TRAINPLAN = f"{shlex.quote(sys.executable)} -m trainplan.cli"
TRAINPLAN = TRAINPLAN.replace("{", "{{").replace("}", "}}")

REPORTS = config["reports_dir"].rstrip("/")
LOGS = config["logs_dir"].rstrip("/")
SWEEPS_DIR = Path(config["sweeps_dir"])
SWEEP_CACHE = Path(".snakemake/trainplan/sweeps.json")
CACHE_MAX_BYTES = 1 << 20     # larger (or non-regular) sweep files are always checked


def fail(message):
    """Stop the workflow: the one-line message on stderr, exit status 1, nothing else."""
    print(f"trainplan: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def _code_fingerprint():
    """A hash of trainplan's installed files (names, sizes, mtimes): a check cached under
    another fingerprint is redone."""
    spec = importlib.util.find_spec("trainplan")
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256(str(root).encode())
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            st = path.stat()
            digest.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


CODE_FINGERPRINT = _code_fingerprint()
"""trainplan's installed files, hashed once per parse: the plan rule's command carries it, so
a changed trainplan (an upgrade, an edit of an editable install) re-plans every sweep and
Snakemake's code trigger re-makes everything downstream."""


def _file_key(path):
    """The cache key of a sweep file (path and SHA-256 of its bytes), or None if it is not a
    small regular file (those are always checked, by the loader)."""
    try:
        if not path.is_file() or path.stat().st_size > CACHE_MAX_BYTES:
            return None
        return f"{path}\0{hashlib.sha256(path.read_bytes()).hexdigest()}"
    except OSError:
        return None


def _check_sweep(path):
    """Load and check one sweep (every value against the catalogs and input rules); its
    name, keep and shard count, or the one-line error and exit."""
    from trainplan.schema.inputs import InputError
    from trainplan.sweep.file import SweepError, load_sweep
    from trainplan.sweep.grid import Grid
    from trainplan.sweep.shard import n_shards

    try:
        sweep = load_sweep(path)
        Grid(sweep)
    except (SweepError, InputError) as err:
        fail(f"bad sweep file: {err}")
    return {"name": sweep.name, "keep": sweep.keep, "shards": n_shards(sweep)}


def _read_cache(fingerprint):
    """The cached checks made under ``fingerprint`` ({} if none or unreadable)."""
    try:
        cache = json.loads(SWEEP_CACHE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(cache, dict) or cache.get("fingerprint") != fingerprint:
        return {}
    sweeps = cache.get("sweeps")
    return sweeps if isinstance(sweeps, dict) else {}


def _write_cache(fingerprint, checked):
    """Store the checks (best effort: a read-only .snakemake only costs the next parse)."""
    try:
        SWEEP_CACHE.parent.mkdir(parents=True, exist_ok=True)
        tmp = SWEEP_CACHE.with_name(f".{SWEEP_CACHE.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "sweeps": checked}, indent=1))
        tmp.replace(SWEEP_CACHE)
    except OSError:
        pass


def _load_sweeps():
    """Every sweep of SWEEPS_DIR: {name: {"path", "keep", "shards"}}, checked or cached."""
    if not SWEEPS_DIR.is_dir():
        fail(f"sweeps_dir {SWEEPS_DIR}: no such folder")
    fingerprint = CODE_FINGERPRINT
    cached, checked, sweeps = _read_cache(fingerprint), {}, {}
    for path in sorted(SWEEPS_DIR.glob("*.yaml")):
        key = _file_key(path)
        record = cached.get(key) if key else None
        if not isinstance(record, dict) or set(record) != {"name", "keep", "shards"}:
            record = _check_sweep(path)
        if key:
            checked[key] = record
        sweeps[record["name"]] = {**record, "path": str(path)}
    if not sweeps:
        fail(f"no sweep files (*.yaml) in {SWEEPS_DIR}")
    if checked != cached:
        _write_cache(fingerprint, checked)
    return sweeps


# --- damaged outputs --------------------------------------------------------------------------

PNG_END = b"IEND\xaeB`\x82"


def _ends(path, size):
    """The first and last ``size`` bytes of a file."""
    with path.open("rb") as fh:
        head = fh.read(size)
        fh.seek(max(0, path.stat().st_size - size))
        return head, fh.read(size)


def damage(path):
    """Why an output file is visibly damaged (truncated or not what its name says), or None.
    Checks the format's framing only (Parquet magic and footer, PNG end chunk, PDF trailer,
    JSON syntax): cheap enough for every parse."""
    suffix, size = path.suffix, path.stat().st_size
    if suffix == ".parquet":
        head, tail = _ends(path, 8)
        footer = int.from_bytes(tail[:4], "little") if len(tail) == 8 else size
        if head[:4] != b"PAR1" or tail[4:] != b"PAR1" or footer + 12 > size:
            return "not a complete Parquet file"
    elif suffix == ".png":
        head, tail = _ends(path, 8)
        if head != b"\x89PNG\r\n\x1a\n" or tail != PNG_END:
            return "not a complete PNG image"
    elif suffix == ".pdf":
        head, tail = _ends(path, 1024)
        if not head.startswith(b"%PDF-") or b"%%EOF" not in tail:
            return "not a complete PDF"
    elif suffix == ".json":
        try:
            json.loads(path.read_bytes())
        except ValueError:
            return "not valid JSON"
    return None


def _remove_damaged(root):
    """Remove every damaged output under ``root``; a damaged file inside a directory output
    (it holds Snakemake's .snakemake_timestamp) takes the whole directory with it."""
    if not Path(root).is_dir():
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.endswith(".tmp"))   # a job's, being written
        for name in sorted(files):
            path = Path(folder) / name
            try:
                why = None if name.endswith(".tmp") else damage(path)
            except OSError as err:
                why = f"unreadable ({err.strerror})"
            if why is None:
                continue
            output = path.parent if (path.parent / ".snakemake_timestamp").exists() else path
            print(f"trainplan: {path}: {why}; removed {output}, it will be re-made",
                  file=sys.stderr)
            if output.is_dir():
                shutil.rmtree(output, ignore_errors=True)
                dirs.clear()
                break
            output.unlink(missing_ok=True)


SWEEPS = _load_sweeps()
if workflow.exec_mode.name == "DEFAULT":   # not in a job's own Snakemake (cluster, group)
    _remove_damaged(REPORTS)
KEEPS_ROWS = [name for name, sweep in SWEEPS.items() if sweep["keep"] in ("all", "feasible")]


def sweep_file(wildcards):
    """The sweep's YAML file."""
    return SWEEPS[wildcards.sweep]["path"]


def shard_ids(name):
    """The five-digit ids of a sweep's shards, as they appear in file names."""
    return [f"{i:05d}" for i in range(SWEEPS[name]["shards"])]


def rows_sweeps_pattern():
    """The sweeps whose shards also write points/ (a pattern that matches nothing if none)."""
    return "|".join(map(re.escape, KEEPS_ROWS)) if KEEPS_ROWS else "(?!)"


def points_parts(name):
    """The points/ partitions of a sweep that keeps rows (none for the others)."""
    if name not in KEEPS_ROWS:
        return []
    return [f"{REPORTS}/{name}/points/shard={i}" for i in shard_ids(name)]


def every_output(name):
    """Every file and folder written for a sweep. They are all targets: Snakemake re-makes a
    missing target, but not a missing intermediate whose consumers look up to date, so a
    deleted or damaged (_remove_damaged removes it) table, figure or points/ partition would
    otherwise stay missing. Call it after every stage is included (rule all does)."""
    stages = (rules.plan, rules.combine, rules.analyse, rules.figures, rules.report)
    return [p for rule in stages for p in expand(list(rule.output), sweep=name)] \
        + points_parts(name)


def combine_inputs(wildcards):
    """Every shard's summary and counts, and its points/ part for sweeps that keep rows."""
    ids = shard_ids(wildcards.sweep)
    shards = f"{REPORTS}/{wildcards.sweep}/shards"
    inputs = {
        "summaries": [f"{shards}/{i}.parquet" for i in ids],
        "counts": [f"{shards}/{i}.json" for i in ids],
    }
    if wildcards.sweep in KEEPS_ROWS:
        inputs["points"] = points_parts(wildcards.sweep)
    return inputs


wildcard_constraints:
    sweep="|".join(map(re.escape, sorted(SWEEPS))),
    shard=r"\d{5}",
