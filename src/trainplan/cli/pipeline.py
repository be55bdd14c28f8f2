"""Pipeline sub-commands: the stages Snakemake runs (``workflow/rules/*.smk`` call these).

``trainplan check SWEEP``                     check a sweep file; print its grid and shards
``trainplan shard SWEEP --shard I ...``       evaluate one shard
``trainplan combine SUMMARY... --best F ...`` reduce the shards' candidates to the tables
``trainplan analyse SWEEP --best F ...``      recommendation, rankings, guidelines (JSON)
``trainplan figures --best F ...``            the report's figures
``trainplan report ...``                      HTML, PDF and the scenario table as CSV
``trainplan index ...``                       reports/index.html

Every command takes each file it reads and writes as an explicit argument (the rules declare
the same files), so none of them looks into a folder by convention. Each checks the files it
reads and the places it writes before any work (:mod:`trainplan.cli._files`), so a bad path
ends in one ``trainplan: error:`` line with nothing written.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from trainplan import atomic
from trainplan.cli._files import (
    UsageError,
    check_parquet,
    distinct_outputs,
    input_file,
    output_dir,
    output_file,
    read_json,
    read_parquet,
)

SHARD_COUNTS_KEYS = ("configurations", "feasible", "flags")
"""Keys of a shard's counts JSON (written by ``trainplan shard``)."""

COUNTS_KEYS = ("configurations", "feasible", "reasons")
"""Keys of a sweep's counts JSON (written by ``trainplan combine``)."""

ANALYSIS_KEYS = ("name", "title", "description", "grid_size", "counts", "reference")
"""Keys of ``analysis.json`` the figures, report and index stages read."""


def _load_sweep(path: str):
    """The sweep at ``path`` (checked to be a readable regular file first)."""
    from trainplan.sweep.file import load_sweep

    try:
        return load_sweep(input_file(path))
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason})") from None


def cmd_check(args: argparse.Namespace) -> int:
    from trainplan.sweep.grid import Grid
    from trainplan.sweep.shard import n_shards

    for path in args.sweeps:
        sweep = _load_sweep(path)
        Grid(sweep)   # resolves every value against the catalogs and the input rules
        dims = " x ".join(f"{a.name} {len(a.values)}" for a in sweep.axes) or "a single point"
        print(f"{path}: ok: {sweep.size:,} configurations ({dims}); keep {sweep.keep}; "
              f"{n_shards(sweep)} shard(s); scenario axes: {', '.join(sweep.scenario) or '-'}")
    return 0


def cmd_shard(args: argparse.Namespace) -> int:
    from trainplan.sweep.shard import n_shards, run_shard

    output_file(args.summary)
    output_file(args.counts)
    if args.points:
        output_dir(args.points)
    distinct_outputs(args.summary, args.counts, args.points)
    n = n_shards(_load_sweep(args.sweep))
    if not 0 <= args.shard < n:
        raise UsageError(f"{args.sweep}: --shard {args.shard} is out of range; allowed: 0 to "
                         f"{n - 1} (the sweep has {n} shard(s))")
    counts = run_shard(args.sweep, args.shard, args.summary, args.points, args.counts)
    print(f"shard {args.shard}: {counts['configurations']:,} configurations, "
          f"{counts['feasible']:,} feasible")
    return 0


def cmd_combine(args: argparse.Namespace) -> int:
    from trainplan.sweep.combine import combine

    for path in args.summaries:
        check_parquet(path)
    for path in args.counts:
        read_json(path, SHARD_COUNTS_KEYS)
    outputs = {"best": args.best, "tp_pp": args.tp_pp, "pareto": args.pareto,
               "counts": args.counts_out}
    for path in outputs.values():
        output_file(path)
    distinct_outputs(*outputs.values())
    paths = combine(args.summaries, args.counts, outputs)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def cmd_analyse(args: argparse.Namespace) -> int:
    from trainplan.analysis import analyse
    from trainplan.analysis.provenance import provenance

    output_file(args.out)
    sweep = _load_sweep(args.sweep)
    best = read_parquet(args.best)
    counts = read_json(args.counts, COUNTS_KEYS)
    result = {**analyse(sweep, best, counts), "provenance": provenance(sweep)}
    atomic.write_text(args.out, json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


def _reference(analysis: dict, path: str) -> dict | None:
    """The analysis' reference scenario (None if it has none); checked to be an object."""
    ref = analysis["reference"]
    if ref is not None and not (isinstance(ref, dict) and "scenario_id" in ref
                                and "label" in ref):
        raise UsageError(f"{path}: key 'reference' is not a scenario object; expected the "
                         "output of 'trainplan analyse'")
    return ref


def cmd_figures(args: argparse.Namespace) -> int:
    from trainplan.render.figures import render_figures

    analysis = read_json(args.analysis, ANALYSIS_KEYS)
    ref = _reference(analysis, args.analysis)
    best = read_parquet(args.best)
    tp_pp, pareto = read_parquet(args.tp_pp), read_parquet(args.pareto)
    out_dir = output_dir(args.out_dir)
    output_file(args.manifest)
    distinct_outputs(args.out_dir, args.manifest)
    out_dir.mkdir(exist_ok=True)
    figures = []
    if ref is not None:
        figures = render_figures(best, tp_pp, pareto, out_dir, ref["scenario_id"], ref["label"],
                                 axes=analysis.get("scenario_columns") or (),
                                 replicated_memory_bytes=ref.get("replicated_memory_bytes"))
    atomic.write_text(args.manifest, json.dumps(figures, indent=1) + "\n")
    print(f"wrote {len(figures)} figures to {out_dir}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import polars as pl

    from trainplan.launch import launch_material
    from trainplan.launch.bundle import bundle_zip, scenario_launches
    from trainplan.render.report import generation_date, write_report

    try:
        generated = generation_date()
    except ValueError as err:
        raise UsageError(str(err)) from None
    analysis = read_json(args.analysis, ANALYSIS_KEYS)
    figures = read_json(args.figures)
    if not isinstance(figures, list):
        raise UsageError(f"{args.figures}: expected a JSON list of figures (the manifest "
                         f"'trainplan figures' writes); found a {type(figures).__name__}")
    validation = read_json(args.validation, ("rows", "summary"))
    if bool(args.best) != bool(args.launch_zip):
        raise UsageError("--best and --launch-zip go together: the zip holds the launch "
                         "material of every scenario winner of best.parquet")
    outputs = [args.html, args.pdf] + [p for p in (args.csv, args.launch_zip) if p]
    for path in outputs:
        output_file(path)
    distinct_outputs(*outputs)
    ref = _reference(analysis, args.analysis)
    launch = launch_material(ref["config"]) if ref else {"torchrun": "", "deepspeed_config": None,
                                                         "deepspeed": None, "notes": []}
    launches, bundle = None, None
    if args.best:
        winners = read_parquet(args.best).filter(pl.col("rank_in_scenario") == 1)
        launches = scenario_launches(winners.iter_rows(named=True), analysis["scenarios"],
                                     analysis["name"])
        bundle = bundle_zip(launches)
    csv = Path(args.csv) if args.csv else None
    write_report(analysis, figures, launch, validation, Path(args.html), Path(args.pdf),
                 out_csv=csv, generated=generated, launches=launches,
                 out_zip=Path(args.launch_zip) if args.launch_zip else None, zip_bytes=bundle)
    print(f"wrote {', '.join(outputs)}")
    return 0


def _index_entry(path: str, out: Path) -> dict:
    """One report's line in the index, from its ``analysis.json`` (next to the report)."""
    analysis = read_json(path, ANALYSIS_KEYS)
    folder = Path(path).parent
    ref = _reference(analysis, path)
    try:
        html = str((folder / "report.html").relative_to(out.parent))
        pdf = str((folder / "report.pdf").relative_to(out.parent))
    except ValueError:
        raise UsageError(f"{path}: not inside the index's folder {str(out.parent)!r}; the "
                         "index links each report by a relative path") from None
    return {
        "name": analysis["name"], "title": analysis["title"],
        "description": analysis["description"], "html": html, "pdf": pdf,
        "grid_size": analysis["grid_size"], "feasible": analysis["counts"]["feasible"],
        "best_label": f"{ref['label']}: {ref['best']['strategy']}, "
                      f"{ref['best']['layout']}" if ref else "no feasible configuration",
    }


def cmd_index(args: argparse.Namespace) -> int:
    from trainplan.render.report import write_index

    out = output_file(args.out)
    entries = [_index_entry(path, out) for path in args.analyses]
    write_index(sorted(entries, key=lambda e: e["name"]), out)
    print(f"wrote {out}")
    return 0


def cmd_validation(args: argparse.Namespace) -> int:
    from trainplan.cli import predict_checked
    from trainplan.validation import runs
    from trainplan.validation import text as vreport

    path = Path(args.runs) if args.runs else runs.shipped_runs_path()
    for out in (args.out, args.text, args.json):
        output_file(out)
    distinct_outputs(args.out, args.text, args.json)
    results = predict_checked(path)
    table = io.BytesIO()
    results.write_parquet(table, statistics=True)
    summary = vreport.summary_json(results)
    text = vreport.format_text(results)
    runs_table = runs.read_runs(path)
    if runs_table["source"].n_unique() >= 2:
        from trainplan.validation import fit

        cv = fit.cross_validate(runs_table)
        summary["cross_validation"] = fit.cv_json(cv)
        text = fit.with_cv_block(text, cv)
    if args.moe_runs:
        from trainplan.validation.fit import error_line

        moe = vreport.expert_errors(predict_checked(Path(args.moe_runs)))
        summary["moe"] = {**moe, "runs": Path(args.moe_runs).name}
        text += (f"\n\nmixture-of-experts runs ({Path(args.moe_runs).name}, nothing fitted on "
                 f"them): {error_line(moe)}")
    atomic.write_many([
        (args.out, table.getvalue()),
        (args.text, (text + "\n").encode("utf-8")),
        (args.json, (json.dumps(summary, indent=1) + "\n").encode()),
    ])
    print(vreport.summary_line(results))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the pipeline sub-commands on the ``trainplan`` parser."""
    p = sub.add_parser("check", help="check sweep files (keys, values, catalog names, size)")
    p.add_argument("sweeps", nargs="+")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("shard", help="evaluate one shard of a sweep")
    p.add_argument("sweep")
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--summary", required=True, help="candidate rows (Parquet)")
    p.add_argument("--counts", required=True, help="configurations and reasons (JSON)")
    p.add_argument("--points", help="directory for every row (sweeps that keep rows)")
    p.set_defaults(func=cmd_shard)

    p = sub.add_parser("combine", help="reduce shard summaries to best/tp_pp/pareto tables")
    p.add_argument("summaries", nargs="+", help="shard summaries (Parquet)")
    p.add_argument("--counts", nargs="+", required=True, help="shard counts (JSON)")
    p.add_argument("--best", required=True)
    p.add_argument("--tp-pp", required=True)
    p.add_argument("--pareto", required=True)
    p.add_argument("--counts-out", required=True)
    p.set_defaults(func=cmd_combine)

    p = sub.add_parser("analyse", help="recommendation, rankings and guidelines as JSON")
    p.add_argument("sweep")
    p.add_argument("--best", required=True, help="best configurations (Parquet)")
    p.add_argument("--counts", required=True, help="configurations and reasons (JSON)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_analyse)

    p = sub.add_parser("figures", help="render the report's figures")
    p.add_argument("--best", required=True, help="best configurations (Parquet)")
    p.add_argument("--tp-pp", required=True, help="best per TP x PP (Parquet)")
    p.add_argument("--pareto", required=True, help="cost frontier (Parquet)")
    p.add_argument("--analysis", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--manifest", required=True)
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("report", help="render report.html and report.pdf")
    p.add_argument("--analysis", required=True)
    p.add_argument("--figures", required=True, help="figure manifest (JSON)")
    p.add_argument("--validation", required=True, help="validation summary (JSON)")
    p.add_argument("--html", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--csv", help="the scenario table as CSV (scenarios.csv)")
    p.add_argument("--best", help="best.parquet: launch material for every scenario winner")
    p.add_argument("--launch-zip", help="the launch material of every scenario winner (zip; "
                                        "needs --best)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("index", help="render reports/index.html")
    p.add_argument("analyses", nargs="+")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("validation-table", help="validation results for the reports")
    p.add_argument("--runs", help="runs table (default: shipped)")
    p.add_argument("--moe-runs", help="measured mixture-of-experts runs no constant is fitted "
                   "on: their signed errors give the band of reports on models with experts")
    p.add_argument("--out", required=True)
    p.add_argument("--text", required=True)
    p.add_argument("--json", required=True, help="summary for the reports")
    p.set_defaults(func=cmd_validation)
