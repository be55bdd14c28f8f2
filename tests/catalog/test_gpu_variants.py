"""GPU variants: the H800 is an H100 with less NVLink bandwidth."""

from __future__ import annotations

import polars as pl

from trainplan import catalog, evaluate


def test_h800_is_an_h100_with_a_narrower_nvlink():
    h100, h800 = catalog.gpu("H100"), catalog.gpu("h800")
    assert h800["name"] == "H800-SXM5-80GB"
    assert h800["bf16_tflop_s"] == h100["bf16_tflop_s"]
    assert float(h800["scaleup_gbyte_s"]) < float(h100["scaleup_gbyte_s"])
    row = {"model": "llama3-70b", "n_gpus": 64, "tp": 8, "pp": 2, "global_batch": 128,
           "micro_batch": 1, "zero_stage": 1, "recompute": "full"}
    t = {g: evaluate(pl.DataFrame([{**row, "gpu": g}])).row(0, named=True)["tp_exposed_s"]
         for g in ("H100", "H800")}
    assert t["H800"] > t["H100"]
