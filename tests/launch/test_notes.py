"""Notes: what the commands cannot say (uneven nodes, padding, schedules, dropped overlaps)."""

from __future__ import annotations

from trainplan.launch import LaunchConfig
from trainplan.launch.notes import launch_notes


def _notes(row: dict, **changes) -> list[str]:
    """The notes of ``row`` with ``changes`` applied."""
    return launch_notes(LaunchConfig.from_row({**row, **changes}))


def _has(notes: list[str], text: str) -> bool:
    """Whether some note contains ``text``."""
    return any(text in note for note in notes)


def test_nodes_and_vocabulary(llama):
    notes = launch_notes(llama)
    assert _has(notes, "nodes = ceil(n_gpus / gpus_per_node) = ceil(64 / 8) = 8")
    # 128256 padded to a multiple of 128 * 8 = 1024: 126 * 1024 = 129024
    assert _has(notes, "tokenizer (V = 128256)") and _has(notes, "129024")
    assert _has(notes, "768 padding rows")
    assert _has(notes, "--train-iters 3576279")
    assert not _has(notes, "DeepSpeed")


def test_uneven_last_node(zero3):
    notes = launch_notes(zero3)
    assert _has(notes, "--nproc-per-node=4")  # 12 GPUs = 8 + 4
    assert _has(notes, "slots=4")
    assert _has(notes, "ZeRO-3")
    assert _has(notes, "no finite token budget")
    assert not _has(notes, "not supported by DeepSpeed")


def test_schedules_megatron_cannot_run(llama_row):
    assert _has(_notes(llama_row, schedule="gpipe"), "no GPipe schedule")
    assert _has(_notes(llama_row, schedule="interleaved", vpp=1.0), "needs vpp > 1")
    assert _has(_notes(llama_row, vpp=3.0), "not divisible by pp * vpp = 12")
    assert not _has(_notes(llama_row, schedule="gpipe", pp=1.0, dp=8.0), "GPipe")


def test_dropped_overlaps(llama_row):
    assert _has(_notes(llama_row, seq_parallel=False), "--tp-comm-overlap dropped")
    assert _has(_notes(llama_row, overlap_grad_reduce=False), "--overlap-param-gather dropped")
    assert not _has(_notes(llama_row), "dropped")


def test_alibi_and_fp8(llama_row, zero3_row):
    assert _has(_notes(llama_row, position_embedding="alibi"), "no ALiBi")
    assert _has(_notes(llama_row, precision="fp8"), "Transformer Engine")
    assert _has(_notes(zero3_row, precision="fp8"), "fp8_autocast")


def test_deepspeed_limits(zero3_row):
    notes = _notes(zero3_row, tp=2.0, cp=2.0, dp=3.0, recompute="selective", global_batch=6.0)
    for text in ("mpu to deepspeed.initialize", "no ring-attention",
                 "selective recomputation (attention core only)"):
        assert _has(notes, text), text


def test_automodel_plans_say_which_yaml_keys_carry_the_layout(llama_row):
    # Llama 3 70B on 64 GPUs, tp 8 x pp 4 (vpp 2) x dp 2, micro-batch 1, global batch 512
    notes = _notes(llama_row, framework="NeMo AutoModel")
    assert _has(notes, "distributed.tp_size: 8, cp_size: 1, pp_size: 4, ep_size: 1")
    assert _has(notes, "local_batch_size: 256, autopipeline.pp_schedule: interleaved1f1b, "
                       "autopipeline.pp_microbatch_size: 1")
    assert not _has(_notes(llama_row), "AutoModel")
    assert not _has(_notes(llama_row, pp=1.0, vpp=1.0, dp=8.0, framework="NeMo AutoModel"),
                    "autopipeline")
