"""The model against published training runs (the acceptance criteria of the model issue)."""

from __future__ import annotations

import polars as pl
import pytest

from trainplan.validation import runs
from trainplan.validation.text import format_text


@pytest.fixture(scope="module")
def shipped():
    return runs.read_runs(runs.shipped_runs_path())


@pytest.fixture(scope="module")
def results(shipped):
    return runs.predict_runs(shipped)


def test_step_time_accuracy_on_the_shipped_runs(results):
    s = runs.summary(results)
    assert s["n"] >= 40
    assert s["median_abs_err_pct"] <= 5.0
    assert s["p90_abs_err_pct"] <= 20.0      # where issue 9 stands; the target is below


@pytest.mark.xfail(strict=True, reason="issue 9 (open): p90 16.27 %; 2021 DeepSpeed ZeRO-3 "
                   "on 530B at 1,120 and 2,240 GPUs (17 and 25 %) and three BLOOM rows "
                   "(16-20 %) are predicted too fast, the NeMo 25.11 Llama 3 8B FP8 run 19 % "
                   "too slow")
def test_step_time_p90_meets_the_issue_9_target(results):
    assert runs.summary(results)["p90_abs_err_pct"] <= 15.0


def test_every_source_is_scored_and_reported(results):
    table = runs.per_source(results)
    assert table.height == 4
    assert (table["median_abs_err_pct"] <= 10.0).all()


@pytest.mark.xfail(strict=True, reason="issue 9 (open): with the 70 layers split 11/12/11 "
                   "over 6 stages (as Megatron-DeepSpeed did), BLOOM 184B tp=4 pp=6 mb=1 is "
                   "predicted at 71.8 GiB, just inside the usable memory, though it ran out")
def test_oom_runs(results):
    oom = results.filter(pl.col("measured_oom") == "yes")
    assert oom.height == 3
    caught = set(oom.filter(~pl.col("predicted_fits"))["row_id"])
    # 184B with tp=4 pp=6 (both micro-batches) needs more than 80 GiB per GPU.
    assert {"bloom_prequel_0228_05", "bloom_prequel_0228_06"} <= caught
    # Every run the source reports as fitting is predicted to fit.
    ran = results.filter(pl.col("measured_oom") == "no")
    assert ran["predicted_fits"].all()


def test_memory_is_below_nvidia_smi_which_adds_the_allocator_cache(results):
    measured = results.filter(pl.col("measured_memory_gib").is_not_null())
    ratio = measured["measured_memory_gib"] / measured["predicted_memory_gib"]
    assert measured.height == 17
    # nvidia-smi adds the caching allocator's reserve: 24-36 % over the allocation here
    assert ratio.min() >= 1.0 and ratio.max() <= 1.36


def test_rows_not_represented_are_listed_with_the_reason(results):
    missing = results.filter(~pl.col("represented"))
    assert missing["row_id"].to_list() == ["nar21_s51_gpt3"]
    assert "not stated: tp, pp" in missing["reason_not_represented"][0]


def test_defaults_for_blank_cells_are_stated(results):
    mcore = results.filter(pl.col("row_id") == "mcore24_h100_1").row(0, named=True)
    assert "ffn_hidden" in mcore["assumptions"]          # from its catalog entry or as 4h
    assert "(not stated)" in mcore["assumptions"]
    assert "micro_batch searched" in mcore["assumptions"]
    assert "micro_batch=" in mcore["searched"]


def test_order_extra_columns_and_blank_cells_do_not_matter(shipped, results):
    shuffled = shipped.sample(fraction=1.0, shuffle=True, seed=3).with_columns(
        pl.lit("x").alias("my_extra_column"))
    again = runs.predict_runs(shuffled).sort("row_id")
    base = results.sort("row_id")
    assert again["predicted_step_time_s"].to_list() == base["predicted_step_time_s"].to_list()
    blanked = shipped.head(3).with_columns(pl.lit(None, dtype=pl.String).alias("vpp"))
    out = runs.predict_runs(blanked)
    assert out["represented"].all()


def test_unknown_accelerator_is_listed_not_dropped(shipped):
    odd = shipped.head(2).with_columns(pl.Series("gpu", ["TPU v4", "A100-SXM4-80GB"]))
    out = runs.predict_runs(odd)
    assert out.height == 2
    assert "unknown accelerator 'TPU v4'" in out["reason_not_represented"][0]
    text = format_text(out)
    assert "not represented:" in text and "TPU v4" in text


def test_overrides_apply_to_every_run(shipped):
    few = shipped.head(2)
    base = runs.predict_runs(few)["predicted_step_time_s"]
    slow = runs.predict_runs(few, {"step_overhead_s": 1.0})["predicted_step_time_s"]
    assert ((slow - base) >= 0.999).all()


def _scored(errors: dict[str, list[float | None]]) -> pl.DataFrame:
    """A results table with the given step-time errors per source (None: not scored)."""
    rows = [(s, e) for s, errs in errors.items() for e in errs]
    return pl.DataFrame({"source": [s for s, _ in rows], "abs_err_pct": [e for _, e in rows]},
                        schema={"source": pl.String, "abs_err_pct": pl.Float64})


def test_summary_over_the_scored_rows():
    s = runs.summary(_scored({"a": [1.0, 2.0, 3.0, None], "b": [4.0, 10.0]}))
    # numpy's linear 90th percentile of 1, 2, 3, 4, 10: 4 + 0.6 (10 - 4)
    assert s == {"median_abs_err_pct": 3.0, "p90_abs_err_pct": pytest.approx(7.6), "n": 5}


def test_summary_without_scored_rows_is_nan():
    s = runs.summary(pl.DataFrame({"source": ["a"]}))
    assert s["n"] == 0 and s["median_abs_err_pct"] != s["median_abs_err_pct"]


def test_per_source_in_order_of_appearance():
    table = runs.per_source(_scored({"b": [4.0, 10.0], "a": [1.0, None, 3.0]}))
    assert table.rows() == [("b", 2, 7.0), ("a", 2, 2.0)]
    assert runs.per_source(pl.DataFrame({"source": ["a"]})).height == 0
