"""Notes on what the model assumed that no Megatron-LM or DeepSpeed flag can say."""

from __future__ import annotations

from trainplan.launch.config import LaunchConfig
from trainplan.launch.deepspeed import DS_CONFIG_FILE
from trainplan.launch.megatron import (
    MEGATRON_VOCAB_DIVISOR,
    layers_per_virtual_stage,
    padded_vocab,
)


def _node_notes(c: LaunchConfig) -> list[str]:
    """How the GPUs map onto nodes, and the uneven last node."""
    notes = [f"nodes = ceil(n_gpus / gpus_per_node) = ceil({c.n_gpus} / {c.gpus_per_node}) = "
             f"{c.n_nodes}, {c.procs_per_node} processes per node"]
    if c.n_gpus % c.gpus_per_node and c.n_nodes > 1:
        last = c.n_gpus - (c.n_nodes - 1) * c.gpus_per_node
        notes.append(f"n_gpus = {c.n_gpus} is not a multiple of gpus_per_node = "
                     f"{c.gpus_per_node}: torchrun starts --nproc-per-node processes on every "
                     f"node, so start the last node with --nproc-per-node={last} (the world "
                     f"size must be {c.n_gpus})")
        if c.uses_deepspeed:
            notes.append(f"for the deepspeed launcher, list the last host with slots={last} in "
                         f"the hostfile")
    return notes


def _model_notes(c: LaunchConfig) -> list[str]:
    """Vocabulary, position embedding and run length."""
    padded = padded_vocab(c.vocab, c.tp)
    notes = [f"vocabulary size comes from the tokenizer (V = {c.vocab}); Megatron pads it to a "
             f"multiple of {MEGATRON_VOCAB_DIVISOR} * tp, i.e. {padded}"
             + (f" ({padded - c.vocab} padding rows the model did not count)"
                if padded != c.vocab else "")]
    if c.position_embedding == "rope" and c.rotary_base is None:
        notes.append("the model's RoPE base frequency is not in the catalog: add "
                     "--rotary-base with the value it was (or will be) trained with "
                     "(Megatron's default is 10000)")
    if c.position_embedding == "alibi":
        notes.append("Megatron-LM has no ALiBi; the command uses --position-embedding-type none "
                     "(no position parameters, as the model assumed) and the ALiBi bias must "
                     "come from a custom attention")
    if c.train_iters is None:
        notes.append("no finite token budget: add --train-iters or --train-samples")
    else:
        notes.append(f"--train-iters {c.train_iters} = "
                     f"ceil(tokens_budget / (global_batch * seq_len))")
    notes.append("data, tokenizer and optimizer settings are placeholders: set "
                 "$TOKENIZER_MODEL, $DATA_PATH and $EXTRA_ARGS (--lr, --min-lr, "
                 "--lr-decay-style, --save, --load, ...)")
    return notes


def _schedule_notes(c: LaunchConfig) -> list[str]:
    """Pipeline schedules Megatron cannot run as modelled."""
    if c.pp <= 1:
        return []
    if c.pipeline_schedule == "gpipe":
        return ["Megatron-LM has no GPipe schedule; it runs 1F1B, which keeps at most pp "
                "micro-batches of activations in flight (less memory than modelled)"]
    if c.pipeline_schedule == "interleaved" and c.vpp <= 1:
        return ["the interleaved schedule needs vpp > 1; with vpp = 1 Megatron runs 1F1B"]
    if c.vpp > 1 and layers_per_virtual_stage(c) is None:
        return [f"n_layers = {c.n_layers} is not divisible by pp * vpp = {c.pp * c.vpp}; the "
                f"command uses --num-virtual-stages-per-pipeline-rank {c.vpp}, which needs an "
                f"uneven layout (--decoder-first/last-pipeline-num-layers)"]
    return []


def _overlap_notes(c: LaunchConfig) -> list[str]:
    """Overlaps the model assumed that the Megatron command drops."""
    notes = []
    if c.tp_comm_overlap and c.tp > 1 and not c.seq_parallel:
        notes.append("--tp-comm-overlap dropped: Megatron allows it only with "
                     "--sequence-parallel")
    if c.overlap_param_gather and c.zero_stage == 1 and not c.overlap_grad_reduce:
        notes.append("--overlap-param-gather dropped: Megatron requires --overlap-grad-reduce "
                     "with it")
    if c.precision == "fp8":
        notes.append("FP8 runs through Transformer Engine (--fp8-format hybrid, delayed "
                     "scaling by default) on a bf16 base")
    return notes


def _deepspeed_notes(c: LaunchConfig) -> list[str]:
    """What the ZeRO-2/3 configs need besides the DeepSpeed launcher."""
    if not c.uses_deepspeed:
        return []
    notes = [f"ZeRO-{c.zero_stage} is modelled as DeepSpeed: launch with the deepspeed command "
             f"and {DS_CONFIG_FILE}; train.py is a DeepSpeed training script (e.g. "
             f"Megatron-DeepSpeed pretrain_gpt.py with the model flags of the torchrun "
             f"command); the torchrun command alone does not shard gradients or parameters"]
    if c.tp > 1:
        notes.append("tensor parallelism under DeepSpeed needs a Megatron-style model "
                     "(Megatron-DeepSpeed) that passes its mpu to deepspeed.initialize")
    if c.cp > 1:
        notes.append("DeepSpeed has no ring-attention context parallelism; cp > 1 needs "
                     "Megatron-DeepSpeed's sequence parallelism or a custom attention")
    if c.recompute == "selective":
        notes.append("DeepSpeed activation checkpointing recomputes whole layers; selective "
                     "recomputation (attention core only) must be done by the training script")
    if c.precision == "fp8":
        notes.append("DeepSpeed has no FP8 switch: the training script must wrap layers in "
                     "Transformer Engine fp8_autocast")
    return notes


def _fp8_notes(c: LaunchConfig) -> list[str]:
    """An FP8 recipe the Megatron command cannot name."""
    if c.precision == "fp8" and c.fp8_recipe == "rowwise":
        return ["rowwise FP8 scaling (torchao) has no Megatron-Core --fp8-recipe; the command "
                "uses tensorwise current scaling, whose casts cost the same in the model"]
    return []


def launch_notes(config: LaunchConfig) -> list[str]:
    """What the model assumed that the commands cannot express, in a fixed order.

    Parameters
    ----------
    config : LaunchConfig
        The configuration.

    Returns
    -------
    list of str
        One sentence per note: nodes, model, pipeline schedule, overlaps, FP8, DeepSpeed.
    """
    if config.is_torchtitan:
        return _node_notes(config) + _torchtitan_notes(config) + _offload_notes(config)
    return (_automodel_notes(config) + _node_notes(config) + _model_notes(config)
            + _schedule_notes(config) + _overlap_notes(config) + _fp8_notes(config)
            + _deepspeed_notes(config) + _offload_notes(config))


def _torchtitan_notes(c: LaunchConfig) -> list[str]:
    """What the TorchTitan job config cannot say, or says differently from the model."""
    notes = ["the model shape comes from the TorchTitan flavor: pick the one whose layers, "
             "widths and heads the TOML's first comment gives; tokenizer and dataset are set "
             "in the TOML's [model] and [training] sections of your TorchTitan version"]
    if c.train_iters is not None:
        notes.append(f"training.steps {c.train_iters} = ceil(tokens_budget / (global_batch * "
                     "seq_len))")
    if c.zero_stage in (0, 1, 2) and c.dp > 1:
        notes.append(f"ZeRO-{c.zero_stage} is written as FSDP2 that keeps the gathered weights "
                     "from the forward to the backward (fsdp_reshard_after_forward = never): "
                     "no more memory than modelled, but its communication is FSDP's")
    if c.grad_reduce_bytes_per_param < 4:
        notes.append("the model reduced gradients in 16 bits; TorchTitan reduces in float32 "
                     "(mixed_precision_reduce), which moves twice the bytes")
    return notes


def _offload_notes(c: LaunchConfig) -> list[str]:
    """Activation offloading and whole-MoE-block recomputation, which only the Megatron-LM
    command carries."""
    if not (c.is_torchtitan or c.uses_deepspeed):
        return []
    notes = []
    if c.activation_offload_fraction:
        notes.append("the plan offloads activations to host memory (Megatron-Core "
                     "--cpu-offloading); this launcher has no such switch: run the Megatron-LM "
                     "command, or add activation offloading to the training script")
    if c.offload_moe_inputs and c.n_experts > 0:
        notes.append("the plan offloads the experts' inputs to host memory (Megatron-Core "
                     "--fine-grained-activation-offloading --offload-modules expert_fc1 "
                     "moe_act); this launcher has no such switch: run the Megatron-LM command")
    if c.recompute_moe and c.n_experts > 0:
        notes.append("the plan recomputes each MoE block in the backward (Megatron-Core "
                     "--recompute-modules moe); this launcher has no such switch: run the "
                     "Megatron-LM command, or checkpoint the MoE blocks in the training script")
    return notes


def _automodel_notes(c: LaunchConfig) -> list[str]:
    """NeMo AutoModel, which trainplan writes no recipe for: its YAML keys for the layout."""
    if (c.framework or "").strip().lower() != "nemo automodel":
        return []
    pipeline = (f", autopipeline.pp_schedule: {'interleaved1f1b' if c.vpp > 1 else '1f1b'}, "
                f"autopipeline.pp_microbatch_size: {c.micro_batch}") if c.pp > 1 else ""
    notes = [f"the plan was priced for NeMo AutoModel, for which trainplan writes no recipe: the "
             f"Megatron-LM and DeepSpeed files here train the same layout in those frameworks; "
             f"in an AutoModel YAML set distributed.tp_size: {c.tp}, cp_size: {c.cp}, pp_size: "
             f"{c.pp}, ep_size: {c.ep}, sequence_parallel: {str(c.seq_parallel).lower()}, "
             f"step_scheduler.global_batch_size: {c.global_batch}, local_batch_size: "
             f"{c.global_batch // c.dp}{pipeline}, parallelizer.activation_checkpointing: "
             f"{str(c.recompute != 'none').lower()}"]
    if c.n_experts > 0 and (c.recompute_moe or c.offload_moe_inputs):
        notes.append("AutoModel has no switch to recompute only the MoE blocks or to offload "
                     "the experts' inputs, which the plan assumed: train it with the Megatron-LM "
                     "command, or expect more memory")
    return notes
