"""Pipeline sub-commands: the stages Snakemake runs (``workflow/rules/*.smk`` call these).

``trainplan check SWEEP``                     check a sweep file; print its grid and shards
``trainplan shard SWEEP --shard I ...``       evaluate one shard
``trainplan combine SUMMARY... --best F ...`` reduce the shards' candidates to the tables
``trainplan analyse SWEEP --best F ...``      recommendation, rankings, guidelines (JSON)
``trainplan figures --best F ...``            the report's figures
``trainplan report ...``                      HTML, PDF and the scenario table as CSV
``trainplan index ...``                       reports/index.html

Every command takes each file it reads and writes as an explicit argument (the rules declare
the same files), so none of them looks into a folder by convention.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl

from trainplan import atomic


def cmd_check(args: argparse.Namespace) -> int:
    from trainplan.sweep.file import load_sweep
    from trainplan.sweep.grid import Grid
    from trainplan.sweep.shard import n_shards

    for path in args.sweeps:
        sweep = load_sweep(path)
        Grid(sweep)   # resolves every value against the catalogs and the input rules
        dims = " x ".join(f"{a.name} {len(a.values)}" for a in sweep.axes) or "a single point"
        print(f"{path}: ok: {sweep.size:,} configurations ({dims}); keep {sweep.keep}; "
              f"{n_shards(sweep)} shard(s); scenario axes: {', '.join(sweep.scenario) or '-'}")
    return 0


def cmd_shard(args: argparse.Namespace) -> int:
    from trainplan.sweep.shard import run_shard

    counts = run_shard(args.sweep, args.shard, args.summary, args.points, args.counts)
    print(f"shard {args.shard}: {counts['configurations']:,} configurations, "
          f"{counts['feasible']:,} feasible")
    return 0


def cmd_combine(args: argparse.Namespace) -> int:
    from trainplan.sweep.combine import combine

    outputs = {"best": args.best, "tp_pp": args.tp_pp, "pareto": args.pareto,
               "counts": args.counts_out}
    paths = combine(args.summaries, args.counts, outputs)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def cmd_analyse(args: argparse.Namespace) -> int:
    from trainplan.analysis import analyse
    from trainplan.analysis.provenance import provenance
    from trainplan.sweep.file import load_sweep

    best = pl.read_parquet(args.best)
    counts = json.loads(Path(args.counts).read_text())
    sweep = load_sweep(args.sweep)
    result = {**analyse(sweep, best, counts), "provenance": provenance(sweep)}
    atomic.write_text(args.out, json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    from trainplan.render.figures import render_figures

    analysis = json.loads(Path(args.analysis).read_text())
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ref = analysis.get("reference")
    figures = []
    best = pl.read_parquet(args.best)
    if ref is not None:
        figures = render_figures(best, pl.read_parquet(args.tp_pp),
                                 pl.read_parquet(args.pareto), out_dir,
                                 ref["scenario_id"], ref["label"])
    atomic.write_text(args.manifest, json.dumps(figures, indent=1) + "\n")
    print(f"wrote {len(figures)} figures to {out_dir}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from trainplan.cli import UsageError
    from trainplan.launch import launch_material
    from trainplan.render.report import generation_date, write_report

    try:
        generated = generation_date()
    except ValueError as err:
        raise UsageError(str(err)) from None
    analysis = json.loads(Path(args.analysis).read_text())
    figures = json.loads(Path(args.figures).read_text())
    validation = json.loads(Path(args.validation).read_text())
    ref = analysis.get("reference")
    launch = launch_material(ref["config"]) if ref else {"torchrun": "", "deepspeed_config": None,
                                                         "deepspeed": None, "notes": []}
    csv = Path(args.csv) if args.csv else None
    write_report(analysis, figures, launch, validation, Path(args.html), Path(args.pdf),
                 out_csv=csv, generated=generated)
    print(f"wrote {args.html}, {args.pdf}" + (f" and {args.csv}" if csv else ""))
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from trainplan.render.report import write_index

    out = Path(args.out)
    entries = []
    for path in args.analyses:
        analysis = json.loads(Path(path).read_text())
        folder = Path(path).parent
        ref = analysis.get("reference")
        entries.append({
            "name": analysis["name"], "title": analysis["title"],
            "description": analysis["description"],
            "html": str((folder / "report.html").relative_to(out.parent)),
            "pdf": str((folder / "report.pdf").relative_to(out.parent)),
            "grid_size": analysis["grid_size"], "feasible": analysis["counts"]["feasible"],
            "best_label": f"{ref['label']}: {ref['best']['strategy']}, "
                          f"{ref['best']['layout']}" if ref else "no feasible configuration",
        })
    write_index(sorted(entries, key=lambda e: e["name"]), out)
    print(f"wrote {out}")
    return 0


def cmd_validation(args: argparse.Namespace) -> int:
    from trainplan.validation import runs
    from trainplan.validation import text as vreport

    path = Path(args.runs) if args.runs else runs.shipped_runs_path()
    results = runs.predict_runs(runs.read_runs(path))
    atomic.write_parquet(results, args.out)
    atomic.write_text(args.text, vreport.format_text(results) + "\n")
    atomic.write_text(args.json, json.dumps(vreport.summary_json(results), indent=1) + "\n")
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
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("index", help="render reports/index.html")
    p.add_argument("analyses", nargs="+")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("validation-table", help="validation results for the reports")
    p.add_argument("--runs", help="runs table (default: shipped)")
    p.add_argument("--out", required=True)
    p.add_argument("--text", required=True)
    p.add_argument("--json", required=True, help="summary for the reports")
    p.set_defaults(func=cmd_validation)
