"""The ``trainplan`` command line.

``trainplan validate [CSV] [--out FILE]``
    predict published runs and print predicted vs measured, ending with
    ``median_abs_err_pct=X p90_abs_err_pct=Y n=N``.
``trainplan evaluate CONFIGS.{csv,parquet} --out OUT.parquet``
    evaluate explicit configurations.
``trainplan check ...`` / ``trainplan shard ...`` / ``trainplan report ...``
    the pipeline stages Snakemake runs (see ``workflow/rules``).

Every command ends a failure with ONE line on stderr, ``trainplan: error: <file>: <what is
wrong>`` (the column or key, the bad value and what is allowed where there is one), and exit
status 2 for bad arguments and bad input or output files, 1 for a failure while running (an
operating-system error); inputs and outputs are checked before any work and outputs are
written whole or not at all. A warning (an unknown column, which is ignored) is one line
starting ``trainplan: warning:``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainplan import atomic
from trainplan.cli._files import UsageError, output_file, read_csv_text, read_table
from trainplan.schema.inputs import InputError
from trainplan.sweep.file import SweepError
from trainplan.validation.check import RunTableError

__all__ = ["UsageError", "build_parser", "main"]

INPUT_ERRORS = (InputError, SweepError, RunTableError, UsageError)
"""The project's error types: bad arguments or input (exit status 2, one line, no traceback)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``trainplan: error:`` line (exit status 2)."""

    def error(self, message: str):
        """Print the error and where to find the usage on one line, then exit 2."""
        self.exit(2, f"trainplan: error: {self.prog}: {message} "
                     f"(see '{self.prog} --help')\n")


def warn(message: str) -> None:
    """Print one ``trainplan: warning:`` line on stderr."""
    print(f"trainplan: warning: {message}", file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from trainplan.schema.inputs import INPUT_BY_NAME
    from trainplan.schema.table import evaluate
    from trainplan.validation.check import unknown_columns_warning

    path = Path(args.configs)
    output_file(args.out)
    table = read_table(path)
    if table.height == 0:
        raise UsageError(f"{path}: no configurations to evaluate (the table is empty)")
    result = evaluate(table, where=f"{path}: ")
    warning = unknown_columns_warning(table.columns, INPUT_BY_NAME,
                                      "not model inputs, carried through unchanged")
    if warning:
        warn(f"{path}: {warning}")
    atomic.write_parquet(result, args.out)
    feasible = int(result["feasible"].sum())
    print(f"evaluated {result.height} configurations ({feasible} feasible) -> {args.out}")
    return 0


def predict_checked(path: Path):
    """Read, check and predict the run table at ``path``; warnings printed, n = 0 refused."""
    from trainplan.validation import check, runs

    table = read_csv_text(path)
    for warning in check.check_runs(table, where=f"{path}: "):
        warn(warning)
    results = runs.predict_runs(table)
    check.require_scored(results, where=f"{path}: ")
    return results


def cmd_validate(args: argparse.Namespace) -> int:
    from trainplan.validation import runs
    from trainplan.validation import text as vreport

    path = Path(args.csv) if args.csv else runs.shipped_runs_path()
    if args.out:
        output_file(args.out)
    results = predict_checked(path)
    text = vreport.format_text(results)
    if args.cv:
        from trainplan.validation import fit

        text = fit.with_cv_block(text, fit.cross_validate(runs.read_runs(path)))
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
    parser = _Parser(prog="trainplan", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="score the model against published training runs")
    p.add_argument("csv", nargs="?", help="runs table (default: the runs shipped with trainplan)")
    p.add_argument("--out", help="also write the results (.parquet, .csv or text)")
    p.add_argument("--cv", choices=("source",),
                   help="also refit the fitted constants leaving one source out at a time and "
                        "print the out-of-sample errors beside the in-sample ones")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("evaluate", help="evaluate explicit configurations")
    p.add_argument("configs", help="configurations, one per row (.csv or .parquet)")
    p.add_argument("--out", required=True, help="output Parquet file")
    p.set_defaults(func=cmd_evaluate)

    from trainplan.cli import pipeline as pipeline_cli

    pipeline_cli.add_commands(sub)
    return parser


def _one_line(message: object) -> str:
    """``message`` with its lines joined, so that an error is one line."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    """Run one command; a failure is one ``trainplan: error:`` line and a non-zero status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except INPUT_ERRORS as err:
        print(f"trainplan: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:   # while running: a full disk, a file removed under us, ...
        where = f"{err.filename}: " if err.filename else ""
        print(f"trainplan: error: {where}{_one_line(err.strerror or err)}", file=sys.stderr)
        return 1
