"""The ``trainplan`` command line.

``trainplan validate [CSV] [--out FILE]``
    predict published runs and print predicted vs measured, ending with
    ``median_abs_err_pct=X p90_abs_err_pct=Y n=N``.
``trainplan evaluate CONFIGS.{csv,parquet} --out OUT.parquet``
    evaluate explicit configurations.
``trainplan sweep ...`` / ``trainplan report ...``
    the pipeline stages Snakemake runs (see ``workflow/rules``).

Errors in the input end the command with a one-paragraph message naming the
file, the column or key, the bad value and what is allowed, and exit status 2;
nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from trainplan import atomic
from trainplan.schema.inputs import InputError
from trainplan.sweep.file import SweepError


class UsageError(Exception):
    """A problem with the command line or an input file (reported without a traceback)."""


def _read_table(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema_length=None)
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise UsageError(f"{path}: cannot be read as {suffix[1:]}: {err}") from None
    raise UsageError(f"{path}: unsupported file type {suffix!r}; allowed: .csv, .parquet")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from trainplan.schema.table import evaluate

    path = Path(args.configs)
    table = _read_table(path)
    result = evaluate(table, where=f"{path}: ")
    atomic.write_parquet(result, args.out)
    feasible = int(result["feasible"].sum())
    print(f"evaluated {result.height} configurations ({feasible} feasible) -> {args.out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from trainplan.validation import runs
    from trainplan.validation import text as vreport

    path = Path(args.csv) if args.csv else runs.shipped_runs_path()
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        table = runs.read_runs(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise UsageError(f"{path}: cannot be read as CSV: {err}") from None
    if "row_id" not in table.columns:
        raise UsageError(f"{path}: not a published-runs table (no 'row_id' column); "
                         "expected the columns of published_runs.csv")
    results = runs.predict_runs(table)
    text = vreport.format_text(results)
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() in (".parquet", ".pq"):
            atomic.write_parquet(results, out)
        elif out.suffix.lower() == ".csv":
            atomic.write_csv(results, out)
        else:
            atomic.write_text(out, text + "\n")
    print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainplan", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="score the model against published training runs")
    p.add_argument("csv", nargs="?", help="runs table (default: the runs shipped with trainplan)")
    p.add_argument("--out", help="also write the results (.parquet, .csv or text)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("evaluate", help="evaluate explicit configurations")
    p.add_argument("configs", help="configurations, one per row (.csv or .parquet)")
    p.add_argument("--out", required=True, help="output Parquet file")
    p.set_defaults(func=cmd_evaluate)

    from trainplan.cli import pipeline as pipeline_cli

    pipeline_cli.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (InputError, UsageError, SweepError) as err:
        print(f"trainplan: error: {err}", file=sys.stderr)
        return 2

