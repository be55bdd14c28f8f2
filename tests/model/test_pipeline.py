"""Pipeline schedules: bubble, micro-batches in flight, registries and stage times."""

from __future__ import annotations

import numpy as np
import polars
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainplan import evaluate
from trainplan.model import pipeline as pl
from trainplan.model.choices import Schedule
from trainplan.model.stages import stage_layers


def test_first_stage_holds_p_microbatches_and_interleaving_adds_its_factor():
    p, m = 8, 64
    assert pl.inflight_microbatches_first_stage(Schedule.GPIPE, p, m, 1) == m
    assert pl.inflight_microbatches_first_stage(Schedule.ONE_F_ONE_B, p, m, 1) == p
    v = 4
    layers_worth = pl.inflight_microbatches_first_stage(Schedule.INTERLEAVED, p, m, v) / p
    assert layers_worth == pytest.approx(1 + (p - 1) / (p * v))   # Korthikanti Sec. 4.2.3
    assert pl.inflight_microbatches_first_stage(Schedule.ONE_F_ONE_B, p, 3, 1) == 3


def test_last_stage_of_1f1b_holds_one_and_no_pipeline_holds_one():
    assert pl.inflight_microbatches_last_stage(Schedule.ONE_F_ONE_B, 8, 64, 1) == 1
    for schedule in Schedule:
        assert pl.inflight_microbatches_first_stage(schedule, 1, 64, 1) == 1
        assert pl.inflight_microbatches_last_stage(schedule, 1, 64, 1) == 1


def test_schedule_registries_cover_every_schedule_and_reject_unknown_codes():
    assert set(pl.FIRST_STAGE_INFLIGHT) == set(pl.LAST_STAGE_INFLIGHT) == set(Schedule)
    with pytest.raises(ValueError, match="unknown code"):
        pl.inflight_microbatches_first_stage(np.array([1, 3]), 4, 8, 1)


def test_bubble_fractions():
    # GPipe paper: (p-1)/(m+p-1); 4 stages, 16 micro-batches: 3/19
    assert pl.bubble_fraction(4, 16, 1) == pytest.approx(3 / 19)
    # Narayanan 2021 Sec. 2.2.2: interleaving divides the bubble time by v: 3/16 -> 3/32
    assert pl.bubble_time_ratio(4, 16, 2) == pytest.approx(3 / 32)
    assert pl.pipeline_efficiency(1, 16, 1) == 1.0


@given(st.integers(1, 64), st.integers(1, 512), st.integers(1, 8))
def test_bubble_fraction_and_ratio_agree(p, m, v):
    """f = r/(1+r): the idle share of the whole from the idle time relative to the ideal."""
    r = pl.bubble_time_ratio(p, m, v)
    assert pl.bubble_fraction(p, m, v) == pytest.approx(r / (1 + r), rel=1e-12)


# --- uneven stages --------------------------------------------------------------------------

def test_llama3_405b_and_bloom_stage_splits_are_the_published_ones():
    # Llama 3 (arXiv:2407.21783, Sec. 3.3.2): 126 layers on 16 stages, one layer fewer on the
    # first and the last stage
    assert [float(x) for x in stage_layers(126, 16)] == [7.0, 8.0, 7.0]
    # BLOOM: 70 layers on 12 stages with the two embeddings counted (72 units of 6): 5, 6, 5
    assert [float(x) for x in stage_layers(70, 12)] == [5.0, 6.0, 5.0]
    assert [float(x) for x in stage_layers(96, 8)] == [12.0, 12.0, 12.0]
    assert [float(x) for x in stage_layers(30, 1)] == [30.0, 30.0, 30.0]


@given(st.integers(1, 200), st.integers(2, 64))
def test_stage_split_holds_every_layer_once(n_layers, pp):
    if n_layers < pp:
        return
    first, busiest, last = (float(x) for x in stage_layers(n_layers, pp))
    middle = n_layers - first - last           # layers on the p - 2 middle stages
    assert 1 <= first <= busiest and 1 <= last <= busiest
    assert busiest - 1 <= min(first, last)
    assert 0 <= middle <= (pp - 2) * busiest
    assert middle >= (pp - 2) * (busiest - 1)


def test_deepseek_v3_splits_are_megatron_bridges_layouts():
    """Megatron-Bridge's DeepSeek-V3 recipes (set_deepseek_v3_pipeline_model_parallel_layout)
    leave 13, 5 and 1 layers beside MTP and the loss on the last of 4, 8 and 16 stages; the
    model's split, with the credit its MTP module and two heads earn, is the same."""
    row = {"model": "deepseek-v3", "gpu": "H100", "n_gpus": 2048, "global_batch": 4096}
    for pp, last in [(4, 13), (8, 5), (16, 1)]:
        r = evaluate(polars.DataFrame([{**row, "pp": pp}])).row(0, named=True)
        assert (r["pp_layers_first"], r["pp_layers_last"]) == (-(-61 // pp), last)


@given(st.integers(1, 200), st.integers(2, 64), st.integers(0, 6))
def test_the_last_stage_credit_only_moves_the_layers_short(n_layers, pp, credit):
    """The credit decides where the shortfall of an uneven split goes; it never makes a
    stage hold more than ceil(L/p) nor the split lose a layer."""
    if n_layers < pp:
        return
    first, busiest, last = (float(x) for x in stage_layers(n_layers, pp, credit))
    plain = [float(x) for x in stage_layers(n_layers, pp)]
    assert busiest == plain[1] and 1 <= last <= busiest and 1 <= first <= busiest
    assert last <= plain[2] and first >= plain[0]
    middle = n_layers - first - last
    assert 0 <= middle <= (pp - 2) * busiest if pp > 2 else middle == 0


def _llama(n_layers, pp, **changes):
    row = {"model": "llama3-405b", "n_layers": n_layers, "gpu": "H100-SXM5-80GB", "tp": 8,
           "pp": pp, "dp": 2, "micro_batch": 1, "global_batch": 64, "recompute": "full",
           **changes}
    return evaluate(polars.DataFrame([row])).row(0, named=True)


def test_an_uneven_split_is_feasible_and_between_its_even_neighbours():
    uneven = _llama(126, 16)
    assert uneven["feasible"], uneven["reason"]
    fewer, more = _llama(112, 16), _llama(128, 16)
    assert fewer["step_time_s"] < uneven["step_time_s"] <= more["step_time_s"]
    assert uneven["memory_total_bytes"] <= more["memory_total_bytes"]


def test_fewer_layers_than_stages_and_uneven_interleaving_are_refused():
    assert not _llama(12, 16)["feasible"]
    assert "fewer layers than pipeline stages" in _llama(12, 16)["reason"]
    interleaved = _llama(125, 16, vpp=2, schedule="interleaved")
    assert not interleaved["feasible"] and "interleaving" in interleaved["reason"]
    # NeMo's Llama 3 405B on GB200: 126 layers + embedding + loss = 128 = 16 stages x 4 chunks
    nemo = _llama(126, 16, vpp=4, schedule="interleaved")
    assert nemo["feasible"], nemo["reason"]


def test_zero3_without_resharding_gathers_once_per_step_and_keeps_the_weights():
    each = _llama(128, 16, zero_stage=3, sharded_pipeline=True, dp=8, global_batch=256)
    once = _llama(128, 16, zero_stage=3, sharded_pipeline=True, dp=8, global_batch=256,
                  zero3_reshard_after_forward=False)
    assert once["step_time_s"] < each["step_time_s"]
    assert once["memory_weights_bytes"] > each["memory_weights_bytes"]


def test_zero3_with_a_pipeline_needs_a_framework_that_shards_across_stages():
    refused = _llama(128, 16, zero_stage=3)
    assert not refused["feasible"] and "sharded_pipeline" in refused["reason"]
    assert "sharded_pipeline" not in _llama(128, 16, zero_stage=3,
                                            sharded_pipeline=True)["reason"]


def test_the_busiest_middle_stage_of_an_uneven_split_sets_the_memory():
    # 94 layers on 8 stages: 11, 12 x 6, 11 -- a middle stage holds more weights than the
    # first (11 layers + embedding) when the embedding is small against a layer
    row = {"model": "gpt3-175b", "n_layers": 94, "gpu": "A100-SXM4-80GB", "tp": 8, "pp": 8,
           "dp": 2, "micro_batch": 1, "global_batch": 64, "zero_stage": 1, "recompute": "full"}
    r = evaluate(polars.DataFrame([row])).row(0, named=True)
    assert r["memory_weights_bytes"] == pytest.approx(2.0 * r["params_per_gpu"], rel=1e-9)


def test_uneven_interleaving_launches_with_the_embedding_and_loss_in_the_split():
    from trainplan.launch import launch_material

    nemo = _llama(126, 16, vpp=4, schedule="interleaved")
    torchrun = launch_material(nemo)["torchrun"]
    assert "--account-for-embedding-in-pipeline-split" in torchrun
    assert "--account-for-loss-in-pipeline-split" in torchrun
    assert "--decoder-first-pipeline-num-layers" not in torchrun
    plain = launch_material(_llama(126, 16))["torchrun"]
    assert "--decoder-first-pipeline-num-layers 7" in plain
    assert "--decoder-last-pipeline-num-layers 7" in plain


def test_more_than_two_short_stages_launch_with_an_explicit_layout():
    from trainplan.launch import launch_material

    r = _llama(109, 8)                 # 109 layers on 8 stages: 14 x 8 - 109 = 3 short
    assert r["feasible"]
    torchrun = launch_material(r)["torchrun"]
    assert "--pipeline-model-parallel-layout 'Et*13|t*14|t*14|t*14|t*14|t*14|t*13|t*13L'" \
        in torchrun
    assert "--decoder-first-pipeline-num-layers" not in torchrun
    layers = [int(x) for x in torchrun.split("layout '")[1].split("'")[0]
              .strip("EL").replace("t*", "").split("|")]
    assert sum(layers) == 109 and max(layers) == 14 and len(layers) == 8
