"""One configuration as numbers and layout text."""

from __future__ import annotations

from trainplan.analysis.summary import layout_text, summary_of


def test_layout_text_of_a_3d_layout(row):
    r = row(tp=8.0, pp=4.0, vpp=2.0, dp=16.0, cp=2.0, micro_batch=1.0, zero_stage=1.0,
            recompute="selective", seq_parallel=True)
    assert layout_text(r) == ("tp=8 pp=4 (vpp 2) dp=16 cp=2, micro-batch 1, ZeRO-1, "
                              "selective recompute, sequence parallel")


def test_layout_text_leaves_out_what_is_off(row):
    # cp=1, vpp=1, ZeRO-0, no recompute; sequence parallelism means nothing without TP
    r = row(dp=8.0, micro_batch=2.0, seq_parallel=True)
    assert layout_text(r) == "tp=1 pp=1 dp=8, micro-batch 2, no ZeRO, no recompute"


def test_layout_text_reads_integer_columns(row):
    r = row(tp=2, pp=1, vpp=1, dp=4, cp=1, micro_batch=4, zero_stage=3, recompute="full")
    assert layout_text(r) == "tp=2 pp=1 dp=4, micro-batch 4, ZeRO-3, full recompute"


def test_layout_text_names_recomputed_moe_blocks(row):
    moe = {"ep": 8, "recompute_moe": True}
    base = row(dp=8, micro_batch=1, zero_stage=1)
    assert layout_text({**base, **moe, "recompute": "selective"}).endswith(
        "ep=8, micro-batch 1, ZeRO-1, selective recompute with whole MoE blocks")
    assert layout_text({**base, **moe}).endswith("ZeRO-1, MoE blocks recomputed")
    assert layout_text({**base, **moe, "recompute": "full"}).endswith("ZeRO-1, full recompute")
    assert layout_text({**base, "ep": 8, "offload_moe_inputs": True}).endswith(
        "no recompute, experts' inputs offloaded")


def test_summary_of_converts_units_and_shares(row):
    r = row(memory_total_bytes=3 * 2**30, memory_usable_bytes=72 * 2**30, step_time_s=2.0,
            tp_exposed_s=0.25, dp_exposed_s=0.25, bubble_time_s=0.5,
            comm_tp_bytes_per_step=1e9, comm_dp_bytes_per_step=3e9)
    s = summary_of(r)
    assert s["memory_gib"] == 3.0 and s["memory_usable_gib"] == 72.0
    assert s["exposed_comm_s"] == 0.5 and s["exposed_comm_share"] == 0.25
    assert s["bubble_share"] == 0.25
    assert s["comm_bytes_per_step"] == 4e9
    assert s["cost_usd"] is None                      # NaN (no price) becomes null
    assert s["time_to_train_days"] == 10.0


def test_summary_of_a_zero_step_has_no_shares(row):
    s = summary_of(row(step_time_s=0.0))
    assert s["exposed_comm_share"] is None and s["bubble_share"] is None


def test_a_dp_that_does_not_divide_is_said_so(row):
    r = row(tp=4, pp=4, dp=None, n_gpus=24)          # 24 / 16: a null in the Int64 table
    assert layout_text(r).startswith("tp=4 pp=4 dp not whole, micro-batch")
