"""Warnings for recommendations outside the validated range."""

from __future__ import annotations

from trainplan.render.report.envelope import envelope_warnings


def _run(gpu="A100-SXM4-80GB", framework="Megatron-LM 2021", n_gpus=3072, mfu=0.52, err=3.0):
    return {"gpu": gpu, "framework": framework, "n_gpus": n_gpus, "source_mfu": mfu,
            "abs_err_pct": err}


VALIDATION = {"rows": [_run(), _run(gpu="H100-SXM5-80GB", framework="NeMo", n_gpus=1024,
                                    mfu=0.40),
                       _run(gpu="B200", n_gpus=100_000, err=None)]}   # not scored: ignored


def test_inside_the_range_no_warning():
    best = {"gpu": "A100-SXM4-80GB", "n_gpus": 1024, "mfu": 0.50}
    assert envelope_warnings(best, VALIDATION, "NeMo") == []


def test_each_way_out_is_named():
    best = {"gpu": "B200", "n_gpus": 16384, "mfu": 0.6}
    text = " ".join(envelope_warnings(best, VALIDATION, "TorchTitan"))
    assert "No published run on B200" in text and "A100-SXM4-80GB, H100-SXM5-80GB" in text
    assert "16,384 GPUs is beyond the largest scored run (3,072 GPUs)" in text
    assert "TorchTitan" in text


def test_an_mfu_above_every_measured_run_on_the_gpu_is_flagged():
    best = {"gpu": "H100-SXM5-80GB", "n_gpus": 64, "mfu": 0.55}
    assert envelope_warnings(best, VALIDATION) == [
        "The predicted MFU (55%) is above every measured run on H100-SXM5-80GB (at most 40%)."]
    assert envelope_warnings(None, VALIDATION) == envelope_warnings(best, None) == []


def test_a_model_with_experts_outside_the_validated_models_says_so():
    best = {"gpu": "H100-SXM5-80GB", "n_gpus": 64, "mfu": 0.3, "n_experts": 256}
    text = " ".join(envelope_warnings(best, VALIDATION, "NeMo"))
    assert "No mixture-of-experts run was scored" in text
    moe = {"n": 26, "median_abs_err_pct": 23.4, "runs": "moe_runs.csv"}
    banded = " ".join(envelope_warnings(best, {**VALIDATION, "moe": moe}, "NeMo"))
    assert "the error band is that of 26 measured MoE runs" in banded
    scored_moe = {**VALIDATION, "rows": [{**r, "experts": True} for r in VALIDATION["rows"]]}
    assert "mixture-of-experts" not in " ".join(envelope_warnings(best, scored_moe, "NeMo"))
