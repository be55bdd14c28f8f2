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


def test_gb300_per_gpu_figures_are_the_nvl72_rack_totals_over_72():
    """NVIDIA's GB300 NVL72 sheet gives rack totals with 2:4 sparsity (FP16/BF16 360 PF,
    FP8 720 PF), 576 TB/s of HBM and 130 TB/s of NVLink over 72 GPUs."""
    g = catalog.gpu("GB300 NVL72")
    assert g["name"] == "GB300"
    assert float(g["bf16_tflop_s"]) == 360e3 / 72 / 2
    assert float(g["fp8_tflop_s"]) == 720e3 / 72 / 2
    assert float(g["hbm_gbyte_s"]) == 576e3 / 72
    assert abs(float(g["scaleup_gbyte_s"]) - 130e3 / 72 / 2) / 900 < 0.01
    assert int(g["scaleup_domain_gpus"]) == 72


def test_gb300_fits_what_gb200_cannot_and_reduces_gradients_faster_across_racks():
    """Same compute as the GB200, but 279 GiB instead of 185 and an 800 Gb/s NIC per GPU
    instead of 400: a data-parallel group spread over eight racks reduces over the NICs."""
    fit = {"model": "llama3-405b", "n_gpus": 256, "tp": 4, "pp": 4, "global_batch": 256,
           "micro_batch": 1, "zero_stage": 1, "recompute": "none"}
    racks = {"model": "llama3-70b", "n_gpus": 576, "tp": 8, "pp": 1, "global_batch": 576,
             "micro_batch": 1, "zero_stage": 1, "recompute": "full"}

    def run(row, gpu):
        return evaluate(pl.DataFrame([{**row, "gpu": gpu}])).row(0, named=True)

    assert not run(fit, "GB200")["fits_memory"] and run(fit, "GB300")["fits_memory"]
    assert run(racks, "GB300")["comm_dp_time_s"] < 0.7 * run(racks, "GB200")["comm_dp_time_s"]
