"""A Megatron-LM ``torchrun ... pretrain_gpt.py`` command for one configuration.

Flag names follow ``megatron/training/arguments.py`` of NVIDIA/Megatron-LM
(checked at commit 000c4ac24f61159c138b0975def722c65245983c). There is no
``--virtual-pipeline-model-parallel-size`` flag there: the virtual degree is
derived from ``--num-layers-per-virtual-pipeline-stage`` (or given directly by
the newer ``--num-virtual-stages-per-pipeline-rank``). Validation rules of the
same file decide which flags may appear together: selective recomputation
takes no ``--recompute-method``; ``--tp-comm-overlap`` needs
``--sequence-parallel``; ``--overlap-param-gather`` needs
``--use-distributed-optimizer`` and ``--overlap-grad-reduce``; tensor or
context parallelism needs ``CUDA_DEVICE_MAX_CONNECTIONS=1`` (before Blackwell).
"""

from __future__ import annotations

import math

from trainplan.launch.config import LaunchConfig
from trainplan.launch.megatron_moe import attention_args, moe_args, selective_modules_args
from trainplan.model.config import recomputed_share
from trainplan.model.offload import offloaded_layers
from trainplan.model.stages import stage_layers

RDZV_PORT = 29500
INDENT = "    "
# Megatron pads the vocabulary to a multiple of this times tp (--make-vocab-size-divisible-by).
MEGATRON_VOCAB_DIVISOR = 128
POSITION_EMBEDDING = {"learned": "learned_absolute", "rope": "rope", "alibi": "none"}
NORMALIZATION = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm"}


def padded_vocab(vocab: int, tp: int) -> int:
    """Vocabulary size after Megatron's padding to a multiple of ``128 * tp``.

    Parameters
    ----------
    vocab : int
        Tokenizer vocabulary size ``V``.
    tp : int
        Tensor-parallel degree.

    Returns
    -------
    int
        The padded size Megatron builds the embedding with.
    """
    multiple = MEGATRON_VOCAB_DIVISOR * tp
    return -(-vocab // multiple) * multiple


def layers_per_virtual_stage(config: LaunchConfig) -> int | None:
    """Layers per virtual pipeline stage, ``n_layers / (pp * vpp)``.

    Parameters
    ----------
    config : LaunchConfig
        The configuration.

    Returns
    -------
    int or None
        The layer count when ``pp * vpp`` divides ``n_layers``, else None (the
        layout is then uneven).
    """
    chunks = config.pp * config.vpp
    return None if config.n_layers % chunks else config.n_layers // chunks


def uneven_stage_args(c: LaunchConfig) -> list[str]:
    """The pipeline split the model priced (:meth:`LaunchConfig.stage_split`).

    Empty when every stage holds the same layers or there is no pipeline;
    ``--decoder-first/last-pipeline-num-layers`` when the middle stages then split the rest
    evenly, else (or with multi-token prediction, whose modules it places)
    ``--pipeline-model-parallel-layout``. With interleaving the embedding (and
    the loss) count as a layer of the first (last) chunk, which Megatron needs for equal
    chunks.
    """
    chunks = c.pp * c.vpp
    if c.pp <= 1 or (c.vpp > 1 and c.n_layers % chunks == 0):
        return []
    if c.vpp > 1:
        extra = (chunks - c.n_layers % chunks) % chunks
        return (["--account-for-embedding-in-pipeline-split"]
                + (["--account-for-loss-in-pipeline-split"] if extra >= 2 else []))
    first, busiest, last = c.stage_split()
    if first == busiest == last and c.n_layers == c.pp * busiest:
        return []
    rest = c.n_layers - first - last
    if c.mtp_layers == 0 and (c.pp == 2 or rest == (c.pp - 2) * busiest):
        return [f"--decoder-first-pipeline-num-layers {first}",
                f"--decoder-last-pipeline-num-layers {last}"]
    layout = pipeline_layout(c.n_layers, c.pp, c.mtp_layers, first, last)
    return [f"--pipeline-model-parallel-layout {layout!r}"]


def pipeline_layout(n_layers: int, pp: int, mtp_layers: int = 0, first: int | None = None,
                    last: int | None = None) -> str:
    """Megatron-Core's ``--pipeline-model-parallel-layout`` for a stage split.

    ``E`` is the embedding, ``t`` a transformer layer, ``L`` the loss, ``|`` separates
    stages: the first and last stage hold ``first`` and ``last`` layers (default:
    :func:`~trainplan.model.stages.stage_layers`), the middle stages ``ceil(n_layers / pp)``,
    those nearest the last one fewer until the layers add up; 61 layers on 16 stages with
    the last stage's MTP and two heads counted are ``Et*4|t*4|...|t*4|t*1mL``.
    Multi-token-prediction modules (``m``) go on the last stage, before the loss, as the
    model prices them.
    """
    default_first, busiest, default_last = (int(x) for x in stage_layers(n_layers, pp))
    first = default_first if first is None else first
    last = default_last if last is None else last
    counts = [first] + [busiest] * (pp - 2) + [last]
    short_middle = sum(counts) - n_layers
    for i in range(short_middle):
        counts[pp - 2 - i] -= 1
    stages = [f"t*{n}" for n in counts]
    return "E" + "|".join(stages) + "m" * mtp_layers + "L"


def _parallel_args(c: LaunchConfig) -> list[str]:
    """Tensor, pipeline, virtual-pipeline and context parallel degrees."""
    args = [f"--tensor-model-parallel-size {c.tp}", f"--pipeline-model-parallel-size {c.pp}"]
    args += uneven_stage_args(c)
    if c.pp > 1 and c.vpp > 1:
        per_stage = layers_per_virtual_stage(c)
        if per_stage is not None:
            args.append(f"--num-layers-per-virtual-pipeline-stage {per_stage}")
        else:
            args.append(f"--num-virtual-stages-per-pipeline-rank {c.vpp}")
    if c.cp > 1:
        args.append(f"--context-parallel-size {c.cp}")
    if c.tp > 1 and c.seq_parallel:
        args.append("--sequence-parallel")
    if c.zero_stage == 1:
        args.append("--use-distributed-optimizer")
    elif c.uses_megatron_fsdp:
        # Megatron-Core user guide, "Megatron FSDP": the flags that enable it
        strategy = "optim_grads_params" if c.zero_stage >= 3 else "optim_grads"
        args += ["--use-distributed-optimizer", "--use-megatron-fsdp",
                 f"--data-parallel-sharding-strategy {strategy}",
                 "--no-gradient-accumulation-fusion"]
    return args


def _model_args(c: LaunchConfig) -> list[str]:
    """Model shape: layers, widths, heads, MLP, norm, embeddings, biases, dropout."""
    args = [f"--num-layers {c.n_layers}",
            f"--hidden-size {c.hidden}",
            f"--ffn-hidden-size {c.ffn_hidden}",
            f"--num-attention-heads {c.n_heads}"]
    if c.n_kv_heads != c.n_heads:
        args += ["--group-query-attention", f"--num-query-groups {c.n_kv_heads}"]
    args += [f"--seq-length {c.seq_len}", f"--max-position-embeddings {c.seq_len}",
             f"--position-embedding-type {POSITION_EMBEDDING[c.position_embedding]}",
             f"--normalization {NORMALIZATION[c.norm]}"]
    if c.rotary_base is not None:
        args.append(f"--rotary-base {c.rotary_base:.0f}")
    if c.gated_mlp:
        args.append("--swiglu")
    if not c.tied_embeddings:
        args.append("--untie-embeddings-and-output-weights")
    if not c.linear_bias:
        args.append("--disable-bias-linear")
    if not c.dropout:
        args += ["--attention-dropout 0", "--hidden-dropout 0"]
    return args


def _batch_args(c: LaunchConfig) -> list[str]:
    """Micro and global batch, and the iterations the token budget needs."""
    args = [f"--micro-batch-size {c.micro_batch}", f"--global-batch-size {c.global_batch}"]
    if c.train_iters is not None:
        args.append(f"--train-iters {c.train_iters}")
    return args


def _precision_args(c: LaunchConfig) -> list[str]:
    """``--bf16`` / ``--fp16``, plus Transformer Engine FP8 (on a bf16 base) for fp8."""
    if c.precision == "fp16":
        # Megatron keeps fp16 gradients with --fp16 unless told to accumulate in fp32
        return ["--fp16", "--accumulate-allreduce-grads-in-fp32"] \
            if c.grad_bytes_per_param >= 4 else ["--fp16"]
    if c.grad_reduce_bytes_per_param <= 2 and c.grad_bytes_per_param <= 2:
        # the model kept 16-bit gradients and reduced them in 16 bits; Megatron's default
        # for bf16 is an fp32 main-gradient buffer reduced in fp32 (4 + 4 bytes)
        base = ["--bf16", "--grad-reduce-in-bf16"]
    else:
        base = ["--bf16"]
    if c.precision == "fp8":
        fp8 = [*base, "--fp8-format hybrid",
               f"--fp8-recipe {MEGATRON_FP8_RECIPE.get(c.fp8_recipe, 'tensorwise')}"]
        # --fp8-param-gather needs the distributed optimizer (ZeRO-1 here)
        return [*fp8, "--fp8-param-gather"] if c.fp8_param_gather and c.zero_stage == 1 \
            else fp8
    return base


MEGATRON_FP8_RECIPE = {"delayed": "delayed", "current": "tensorwise", "mxfp8": "mxfp8"}
"""Megatron-Core ``--fp8-recipe`` of each model recipe (rowwise has none: a note says so)."""


def _kernel_args(c: LaunchConfig) -> list[str]:
    """Attention backend and activation recomputation."""
    args = [f"--attention-backend {'flash' if c.flash_attention else 'unfused'}"]
    if c.recompute == "selective":
        args.append("--recompute-granularity selective")
        args += selective_modules_args(c)
    elif c.recompute == "none" and c.recompute_moe and c.n_experts > 0:
        args += ["--recompute-granularity selective", "--recompute-modules moe"]
    elif c.recompute == "full" and c.recompute_fraction >= 1.0:
        args += ["--recompute-granularity full", "--recompute-method uniform",
                 "--recompute-num-layers 1"]
    elif c.recompute == "full":
        args += ["--recompute-granularity full", "--recompute-method block",
                 f"--recompute-num-layers {recomputed_layers(c)}"]
    offloaded = int(offloaded_layers(c.activation_offload_fraction or 0.0, c.stage_split()[1]))
    if offloaded:
        args += ["--cpu-offloading", f"--cpu-offloading-num-layers {offloaded}"]
    if c.offload_moe_inputs and c.n_experts > 0:
        args += ["--fine-grained-activation-offloading", "--offload-modules expert_fc1 moe_act"]
    return args


def recomputed_layers(c: LaunchConfig) -> int:
    """Layers of each (virtual) stage that ``--recompute-method block`` recomputes: the
    whole layers the model priced (:func:`trainplan.model.config.recomputed_share` of
    ``ceil(n_layers / (pp * vpp))``)."""
    per_chunk = math.ceil(c.n_layers / (c.pp * c.vpp))
    share = float(recomputed_share(c.recompute_fraction, c.n_layers, c.pp, c.vpp))
    return round(share * per_chunk)


def _overlap_args(c: LaunchConfig) -> list[str]:
    """Communication overlaps, only where Megatron's validation accepts them."""
    args = []
    if c.overlap_grad_reduce:
        args.append("--overlap-grad-reduce")
    if c.overlap_grad_reduce and c.overlap_param_gather and (c.zero_stage == 1
                                                              or c.uses_megatron_fsdp):
        args.append("--overlap-param-gather")
    if c.tp_comm_overlap and c.tp > 1 and c.seq_parallel:
        args.append("--tp-comm-overlap")
    return args


def _data_args() -> list[str]:
    """Tokenizer and data placeholders, filled from the environment at launch."""
    return ["--tokenizer-type HuggingFaceTokenizer", "--tokenizer-model $TOKENIZER_MODEL",
            "--data-path $DATA_PATH", "--split 99,1,0", "$EXTRA_ARGS"]


def megatron_args(config: LaunchConfig) -> list[str]:
    """The Megatron-LM arguments of ``config``, one flag (with its value) per item.

    Parameters
    ----------
    config : LaunchConfig
        The configuration.

    Returns
    -------
    list of str
        Arguments in a fixed order: parallelism, model, attention variants, experts,
        batch, precision, kernels, overlaps, data.
    """
    return (_parallel_args(config) + _model_args(config) + attention_args(config)
            + moe_args(config) + _batch_args(config)
            + _precision_args(config) + _kernel_args(config) + _overlap_args(config)
            + _data_args())


def _header(c: LaunchConfig) -> list[str]:
    """Comment lines (what the command is for, the vocabulary) and required environment."""
    degrees = f"tp={c.tp} pp={c.pp} cp={c.cp} dp={c.dp} vpp={c.vpp}"
    if c.n_experts > 0:
        degrees += f" ep={c.ep} etp={c.etp}"
    lines = [f"# {c.model or 'model'} on {c.n_gpus} x {c.gpu or 'GPU'}: {degrees}",
             f"# vocabulary V = {c.vocab} comes from the tokenizer ($TOKENIZER_MODEL); "
             f"Megatron pads it to {padded_vocab(c.vocab, c.tp)}"]
    if c.tp > 1 or c.cp > 1:
        lines.append("export CUDA_DEVICE_MAX_CONNECTIONS=1")
    return lines + c.allocator_env


def megatron_command(config: LaunchConfig) -> str:
    """A multi-line ``torchrun ... pretrain_gpt.py`` command for ``config``.

    Parameters
    ----------
    config : LaunchConfig
        The configuration.

    Returns
    -------
    str
        Comment lines, ``export CUDA_DEVICE_MAX_CONNECTIONS=1`` when tp or cp > 1,
        :attr:`~trainplan.launch.config.LaunchConfig.allocator_env`, then the command with
        one argument per backslash-continued line. It expects ``MASTER_ADDR``,
        ``TOKENIZER_MODEL``, ``DATA_PATH`` and (optionally) ``EXTRA_ARGS`` in the environment.
    """
    launcher = [f"torchrun --nnodes={config.n_nodes} --nproc-per-node={config.procs_per_node}",
                f"--rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:{RDZV_PORT}",
                "pretrain_gpt.py"]
    body = (" \\\n" + INDENT).join(launcher + megatron_args(config))
    return "\n".join([*_header(config), body]) + "\n"
