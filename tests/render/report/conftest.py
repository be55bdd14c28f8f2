"""The report's inputs as the pipeline hands them over: the tiny sweep's analysis.json,
validation.json, a figure manifest with two small PNGs, and the launch material."""

from __future__ import annotations

import json
import struct
import zlib

import polars as pl
import pytest
from conftest import TEST_SWEEPS

from trainplan import analysis
from trainplan.analysis.provenance import provenance
from trainplan.render import report
from trainplan.sweep import combine, shard
from trainplan.sweep.file import load_sweep
from trainplan.validation import fit, runs
from trainplan.validation.text import summary_json

SWEEP = TEST_SWEEPS / "tiny.yaml"


def _png(width: int, height: int, grey: int) -> bytes:
    """A tiny valid greyscale PNG (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("report")
    shard.run_shard(SWEEP, 0, tmp / "shards" / "0.parquet", None)
    combine.combine_dir([tmp / "shards" / "0.parquet"], tmp)
    sweep = load_sweep(SWEEP)
    # what `trainplan analyse` writes: the analysis and its provenance
    a = {**analysis.analyse(sweep, pl.read_parquet(tmp / "best.parquet"),
                            json.loads((tmp / "counts.json").read_text())),
         "provenance": provenance(sweep)}
    # what the pipeline hands over: analysis.json as read back from disk
    a = json.loads(json.dumps(a))
    results = runs.predict_runs(runs.read_runs(runs.shipped_runs_path()))
    # what the pipeline hands over: validation.json as read back from disk
    validation = json.loads(json.dumps(
        {**summary_json(results),
         "cross_validation": fit.cv_json(fit.cross_validate(runs.read_runs(
             runs.shipped_runs_path())))}))
    out = tmp / "reports" / "tiny"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "step_time.png").write_bytes(_png(40, 20, 90))
    (out / "figures" / "memory.png").write_bytes(_png(30, 30, 160))
    figures = [
        {"name": "step_time", "file": "step_time.png", "title": "Step time per strategy",
         "caption": "Best layout of each strategy in the reference scenario."},
        {"name": "memory", "file": "memory.png", "title": "Memory per GPU",
         "caption": "Weights, gradients, optimizer states & activations."},
    ]
    launch = {"torchrun": "torchrun --nnodes 2 --nproc-per-node 8 train.py --tp 2 --pp 1",
              "deepspeed_config": '{"zero_optimization": {"stage": 1}}',
              "deepspeed": "deepspeed --num_nodes 2 train.py",
              "notes": ["keep tp inside one node"]}
    return {"analysis": a, "figures": figures, "launch": launch, "validation": validation,
            "results": results, "out": out, "best": tmp / "best.parquet"}


@pytest.fixture(scope="module")
def html(inputs) -> str:
    return report.render_html(inputs["analysis"], inputs["figures"], inputs["launch"],
                              inputs["validation"])


@pytest.fixture(scope="module")
def written(inputs) -> dict:
    out = inputs["out"]
    report.write_report(inputs["analysis"], inputs["figures"], inputs["launch"],
                        inputs["validation"], out / "report.html", out / "report.pdf")
    return {"html": out / "report.html", "pdf": out / "report.pdf"}
