"""Launch material for one configuration: a Megatron-LM ``torchrun`` command, a DeepSpeed config.

A row of the results table says *what* to run (model shape, parallel degrees,
micro-batch, ZeRO stage, recomputation, overlaps); this module writes it down
*as something to run*:

``megatron_command``
    ``torchrun ... pretrain_gpt.py`` with Megatron-LM / Megatron-Core arguments.
``deepspeed_config`` / ``deepspeed_command``
    for ZeRO stages 2 and 3, which the model prices as DeepSpeed ZeRO (stage 1
    is Megatron's distributed optimizer and needs no DeepSpeed).
``launch_material``
    all of the above plus notes on what the model assumed that no flag can say.

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

Every function is pure: the same configuration gives the same text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

RDZV_PORT = 29500
INDENT = "    "
# Megatron pads the vocabulary to a multiple of this times tp (--make-vocab-size-divisible-by).
MEGATRON_VOCAB_DIVISOR = 128
# DeepSpeed's documented defaults (deepspeed/runtime/zero/config.py).
DS_REDUCE_BUCKET_SIZE = 500_000_000
DS_STAGE3_PREFETCH_BUCKET_SIZE = 50_000_000
DS_STAGE3_PARAM_PERSISTENCE_THRESHOLD = 100_000
DS_STAGE3_MAX_LIVE_PARAMETERS = 1_000_000_000
DS_CONFIG_FILE = "ds_config.json"
POSITION_EMBEDDING = {"learned": "learned_absolute", "rope": "rope", "alibi": "none"}
NORMALIZATION = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm"}


# ---- reading a configuration ------------------------------------------------------------------

def _int(cfg: Mapping[str, Any], key: str, default: int | None = None) -> int:
    """An integer field of ``cfg`` (tables store integers as floats: 8.0 -> 8).

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (a row of the results table).
    key : str
        Field name.
    default : int, optional
        Used when the field is missing, None or NaN; without it these raise.

    Returns
    -------
    int
        The value as a Python ``int``.

    Raises
    ------
    KeyError
        The field is missing and there is no default.
    ValueError
        The value is not a whole number.
    """
    value = cfg.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if default is None:
            raise KeyError(f"configuration has no value for {key!r}")
        return default
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"{key} = {value!r} is not a whole number")
    return int(number)


def _flag(cfg: Mapping[str, Any], key: str) -> bool:
    """A boolean field of ``cfg``; missing, None or NaN count as False.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration.
    key : str
        Field name.

    Returns
    -------
    bool
        The truth value (numpy booleans and 0.0/1.0 floats included).
    """
    value = cfg.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)


def _text(cfg: Mapping[str, Any], key: str, default: str) -> str:
    """A lower-case string field of ``cfg`` with a default.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration.
    key : str
        Field name.
    default : str
        Used when the field is missing or None.

    Returns
    -------
    str
        The stripped, lower-cased value.
    """
    value = cfg.get(key)
    return default if value is None else str(value).strip().lower()


def _finite(cfg: Mapping[str, Any], key: str) -> float | None:
    """A numeric field of ``cfg`` when it is present and finite, else None.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration.
    key : str
        Field name.

    Returns
    -------
    float or None
        The value, or None for missing, None, NaN or infinite values.
    """
    value = cfg.get(key)
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# ---- derived quantities -----------------------------------------------------------------------

def nodes(cfg: Mapping[str, Any]) -> tuple[int, int]:
    """Nodes and processes per node for ``n_gpus`` GPUs of ``gpus_per_node`` each.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (``n_gpus``, ``gpus_per_node``).

    Returns
    -------
    tuple of int
        ``(ceil(n_gpus / gpus_per_node), min(gpus_per_node, n_gpus))``.
    """
    n_gpus = _int(cfg, "n_gpus")
    per_node = _int(cfg, "gpus_per_node")
    return -(-n_gpus // per_node), min(per_node, n_gpus)


def grad_accumulation_steps(cfg: Mapping[str, Any]) -> int:
    """Micro-batches per step and data-parallel rank: ``global_batch / (dp * micro_batch)``.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (``global_batch``, ``dp``, ``micro_batch``).

    Returns
    -------
    int
        The number of gradient-accumulation steps.

    Raises
    ------
    ValueError
        ``global_batch`` is not a multiple of ``dp * micro_batch`` (Megatron and
        DeepSpeed both refuse such a batch).
    """
    global_batch = _int(cfg, "global_batch")
    per_step = _int(cfg, "dp") * _int(cfg, "micro_batch")
    if global_batch % per_step:
        raise ValueError(f"global_batch = {global_batch} is not divisible by "
                         f"dp * micro_batch = {per_step}")
    return global_batch // per_step


def train_iters(cfg: Mapping[str, Any]) -> int | None:
    """Steps to consume the token budget: ``ceil(tokens_budget / (global_batch * seq_len))``.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (``tokens_budget``, ``global_batch``, ``seq_len``).

    Returns
    -------
    int or None
        The number of iterations, or None when the budget is missing or not finite.
    """
    budget = _finite(cfg, "tokens_budget")
    if budget is None:
        return None
    tokens_per_step = _int(cfg, "global_batch") * _int(cfg, "seq_len")
    return math.ceil(budget / tokens_per_step)


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


def uses_deepspeed(cfg: Mapping[str, Any]) -> bool:
    """Whether the configuration needs DeepSpeed ZeRO (stages 2 and 3).

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (``zero_stage``).

    Returns
    -------
    bool
        True for ZeRO stage 2 or 3; stage 1 is Megatron's distributed optimizer.
    """
    return _int(cfg, "zero_stage", 0) >= 2


def _schedule(cfg: Mapping[str, Any]) -> str:
    """The pipeline schedule, with ``auto`` resolved (interleaved when vpp > 1)."""
    schedule = _text(cfg, "schedule", "auto")
    if schedule == "auto":
        return "interleaved" if _int(cfg, "vpp", 1) > 1 else "1f1b"
    return schedule


# ---- Megatron-LM arguments --------------------------------------------------------------------

def _parallel_args(cfg: Mapping[str, Any]) -> list[str]:
    """Tensor, pipeline, virtual-pipeline and context parallel degrees."""
    tp, pp, cp = _int(cfg, "tp"), _int(cfg, "pp"), _int(cfg, "cp", 1)
    vpp = _int(cfg, "vpp", 1)
    args = [f"--tensor-model-parallel-size {tp}", f"--pipeline-model-parallel-size {pp}"]
    if pp > 1 and vpp > 1:
        n_layers = _int(cfg, "n_layers")
        if n_layers % (pp * vpp) == 0:
            args.append(f"--num-layers-per-virtual-pipeline-stage {n_layers // (pp * vpp)}")
        else:
            args.append(f"--num-virtual-stages-per-pipeline-rank {vpp}")
    if cp > 1:
        args.append(f"--context-parallel-size {cp}")
    if tp > 1 and _flag(cfg, "seq_parallel"):
        args.append("--sequence-parallel")
    if _int(cfg, "zero_stage", 0) == 1:
        args.append("--use-distributed-optimizer")
    return args


def _model_args(cfg: Mapping[str, Any]) -> list[str]:
    """Model shape: layers, widths, heads, MLP, norm, embeddings, biases, dropout."""
    n_heads, n_kv = _int(cfg, "n_heads"), _int(cfg, "n_kv_heads", _int(cfg, "n_heads"))
    seq_len = _int(cfg, "seq_len")
    args = [f"--num-layers {_int(cfg, 'n_layers')}",
            f"--hidden-size {_int(cfg, 'hidden')}",
            f"--ffn-hidden-size {_int(cfg, 'ffn_hidden')}",
            f"--num-attention-heads {n_heads}"]
    if n_kv != n_heads:
        args += ["--group-query-attention", f"--num-query-groups {n_kv}"]
    args += [f"--seq-length {seq_len}", f"--max-position-embeddings {seq_len}"]
    position = POSITION_EMBEDDING.get(_text(cfg, "position_embedding", "learned"), "none")
    args.append(f"--position-embedding-type {position}")
    norm = NORMALIZATION.get(_text(cfg, "norm", "layernorm"), "LayerNorm")
    args.append(f"--normalization {norm}")
    if _flag(cfg, "gated_mlp"):
        args.append("--swiglu")
    if not _flag(cfg, "tied_embeddings"):
        args.append("--untie-embeddings-and-output-weights")
    if not _flag(cfg, "linear_bias"):
        args.append("--disable-bias-linear")
    if not _flag(cfg, "dropout"):
        args += ["--attention-dropout 0", "--hidden-dropout 0"]
    return args


def _batch_args(cfg: Mapping[str, Any]) -> list[str]:
    """Micro and global batch, and the iterations the token budget needs."""
    grad_accumulation_steps(cfg)  # refuse a batch Megatron would refuse
    args = [f"--micro-batch-size {_int(cfg, 'micro_batch')}",
            f"--global-batch-size {_int(cfg, 'global_batch')}"]
    iters = train_iters(cfg)
    if iters is not None:
        args.append(f"--train-iters {iters}")
    return args


def _precision_args(cfg: Mapping[str, Any]) -> list[str]:
    """``--bf16`` / ``--fp16``, plus Transformer Engine FP8 (on a bf16 base) for fp8."""
    precision = _text(cfg, "precision", "bf16")
    if precision == "fp16":
        return ["--fp16"]
    if precision == "fp8":
        return ["--bf16", "--fp8-format hybrid"]
    return ["--bf16"]


def _kernel_args(cfg: Mapping[str, Any]) -> list[str]:
    """Attention backend and activation recomputation."""
    backend = "flash" if _flag(cfg, "flash_attention") else "unfused"
    args = [f"--attention-backend {backend}"]
    recompute = _text(cfg, "recompute", "none")
    if recompute == "selective":
        args.append("--recompute-granularity selective")
    elif recompute == "full":
        args += ["--recompute-granularity full", "--recompute-method uniform",
                 "--recompute-num-layers 1"]
    return args


def _overlap_args(cfg: Mapping[str, Any]) -> list[str]:
    """Communication overlaps, only where Megatron's validation accepts them."""
    args = []
    grad = _flag(cfg, "overlap_grad_reduce")
    if grad:
        args.append("--overlap-grad-reduce")
    if grad and _flag(cfg, "overlap_param_gather") and _int(cfg, "zero_stage", 0) == 1:
        args.append("--overlap-param-gather")
    if _flag(cfg, "tp_comm_overlap") and _int(cfg, "tp") > 1 and _flag(cfg, "seq_parallel"):
        args.append("--tp-comm-overlap")
    return args


def _data_args() -> list[str]:
    """Tokenizer and data placeholders, filled from the environment at launch."""
    return ["--tokenizer-type HuggingFaceTokenizer", "--tokenizer-model $TOKENIZER_MODEL",
            "--data-path $DATA_PATH", "--split 99,1,0", "$EXTRA_ARGS"]


def megatron_args(cfg: Mapping[str, Any]) -> list[str]:
    """The Megatron-LM arguments of ``cfg``, one flag (with its value) per item.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (a row of the results table).

    Returns
    -------
    list of str
        Arguments in a fixed order: parallelism, model, batch, precision,
        kernels, overlaps, data.
    """
    return (_parallel_args(cfg) + _model_args(cfg) + _batch_args(cfg) + _precision_args(cfg)
            + _kernel_args(cfg) + _overlap_args(cfg) + _data_args())


def _header(cfg: Mapping[str, Any]) -> list[str]:
    """Comment lines (what the command is for, the vocabulary) and required environment."""
    tp, cp = _int(cfg, "tp"), _int(cfg, "cp", 1)
    vocab = _int(cfg, "vocab")
    degrees = (f"tp={tp} pp={_int(cfg, 'pp')} cp={cp} dp={_int(cfg, 'dp')} "
               f"vpp={_int(cfg, 'vpp', 1)}")
    lines = [f"# {cfg.get('model', 'model')} on {_int(cfg, 'n_gpus')} x {cfg.get('gpu', 'GPU')}: "
             f"{degrees}",
             f"# vocabulary V = {vocab} comes from the tokenizer ($TOKENIZER_MODEL); "
             f"Megatron pads it to {padded_vocab(vocab, tp)}"]
    if tp > 1 or cp > 1:
        lines.append("export CUDA_DEVICE_MAX_CONNECTIONS=1")
    return lines


def megatron_command(cfg: Mapping[str, Any]) -> str:
    """A multi-line ``torchrun ... pretrain_gpt.py`` command for ``cfg``.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (a row of the results table).

    Returns
    -------
    str
        Comment lines, ``export CUDA_DEVICE_MAX_CONNECTIONS=1`` when tp or cp > 1,
        then the command with one argument per backslash-continued line. It
        expects ``MASTER_ADDR``, ``TOKENIZER_MODEL``, ``DATA_PATH`` and
        (optionally) ``EXTRA_ARGS`` in the environment.
    """
    n_nodes, per_node = nodes(cfg)
    launcher = [f"torchrun --nnodes={n_nodes} --nproc-per-node={per_node}",
                f"--rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:{RDZV_PORT}",
                "pretrain_gpt.py"]
    parts = launcher + megatron_args(cfg)
    body = (" \\\n" + INDENT).join(parts)
    return "\n".join([*_header(cfg), body]) + "\n"


# ---- DeepSpeed --------------------------------------------------------------------------------

def _zero_section(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``zero_optimization`` block of a DeepSpeed config."""
    stage = _int(cfg, "zero_stage")
    section: dict[str, Any] = {"stage": stage,
                               "overlap_comm": _flag(cfg, "overlap_grad_reduce"),
                               "contiguous_gradients": True,
                               "reduce_bucket_size": DS_REDUCE_BUCKET_SIZE}
    if stage >= 3:
        section["stage3_prefetch_bucket_size"] = DS_STAGE3_PREFETCH_BUCKET_SIZE
        section["stage3_max_live_parameters"] = _int(cfg, "zero3_max_live_params",
                                                     DS_STAGE3_MAX_LIVE_PARAMETERS)
        section["stage3_param_persistence_threshold"] = DS_STAGE3_PARAM_PERSISTENCE_THRESHOLD
    return section


def _precision_section(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``bf16`` and ``fp16`` blocks (fp8 runs on a bf16 base, FP8 itself is TE's)."""
    fp16 = _text(cfg, "precision", "bf16") == "fp16"
    half: dict[str, Any] = {"enabled": fp16}
    if fp16:
        half["loss_scale"] = 0  # dynamic loss scaling
    return {"bf16": {"enabled": not fp16}, "fp16": half}


def deepspeed_config(cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """A DeepSpeed JSON config (as a dict) for ZeRO stage 2 or 3, else None.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (a row of the results table).

    Returns
    -------
    dict or None
        ``train_batch_size`` (= micro * accumulation * dp = global_batch),
        ``train_micro_batch_size_per_gpu``, ``gradient_accumulation_steps``,
        ``bf16``/``fp16``, ``zero_optimization``, ``gradient_clipping`` and,
        when anything is recomputed, ``activation_checkpointing``. None for
        ZeRO stages 0 and 1, which run on Megatron alone.
    """
    if not uses_deepspeed(cfg):
        return None
    micro = _int(cfg, "micro_batch")
    steps = grad_accumulation_steps(cfg)
    config: dict[str, Any] = {"train_batch_size": micro * steps * _int(cfg, "dp"),
                              "train_micro_batch_size_per_gpu": micro,
                              "gradient_accumulation_steps": steps,
                              "gradient_clipping": 1.0,
                              "zero_optimization": _zero_section(cfg),
                              **_precision_section(cfg)}
    if _text(cfg, "recompute", "none") != "none":
        config["activation_checkpointing"] = {"partition_activations": False,
                                              "contiguous_memory_optimization": False,
                                              "cpu_checkpointing": False,
                                              "synchronize_checkpoint_boundary": False}
    return config


def deepspeed_command(cfg: Mapping[str, Any]) -> str | None:
    """A ``deepspeed`` launcher command for ZeRO stage 2 or 3, else None.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (a row of the results table).

    Returns
    -------
    str or None
        ``deepspeed [--hostfile=hostfile] --num_nodes=N --num_gpus=G train.py
        --deepspeed --deepspeed_config ds_config.json`` (the hostfile only for
        more than one node), split over two lines.
    """
    if not uses_deepspeed(cfg):
        return None
    n_nodes, per_node = nodes(cfg)
    hostfile = "--hostfile=hostfile " if n_nodes > 1 else ""
    return (f"deepspeed {hostfile}--num_nodes={n_nodes} --num_gpus={per_node} \\\n"
            f"{INDENT}train.py --deepspeed --deepspeed_config {DS_CONFIG_FILE}\n")


def config_json(config: Mapping[str, Any]) -> str:
    """Stable JSON text of a DeepSpeed config: sorted keys, two-space indent.

    Parameters
    ----------
    config : Mapping[str, Any]
        The config dict.

    Returns
    -------
    str
        The JSON text, ending with a newline.
    """
    return json.dumps(config, sort_keys=True, indent=2) + "\n"


# ---- notes ------------------------------------------------------------------------------------

def _node_notes(cfg: Mapping[str, Any]) -> list[str]:
    """How the GPUs map onto nodes, and the uneven last node."""
    n_gpus, per_node = _int(cfg, "n_gpus"), _int(cfg, "gpus_per_node")
    n_nodes, procs = nodes(cfg)
    notes = [f"nodes = ceil(n_gpus / gpus_per_node) = ceil({n_gpus} / {per_node}) = {n_nodes}, "
             f"{procs} processes per node"]
    if n_gpus % per_node and n_nodes > 1:
        last = n_gpus - (n_nodes - 1) * per_node
        notes.append(f"n_gpus = {n_gpus} is not a multiple of gpus_per_node = {per_node}: "
                     f"torchrun starts --nproc-per-node processes on every node, so start the "
                     f"last node with --nproc-per-node={last} (the world size must be {n_gpus})")
        if uses_deepspeed(cfg):
            notes.append(f"for the deepspeed launcher, list the last host with slots={last} in "
                         f"the hostfile")
    return notes


def _model_notes(cfg: Mapping[str, Any]) -> list[str]:
    """Vocabulary, position embedding and run length."""
    vocab, tp = _int(cfg, "vocab"), _int(cfg, "tp")
    padded = padded_vocab(vocab, tp)
    notes = [f"vocabulary size comes from the tokenizer (V = {vocab}); Megatron pads it to a "
             f"multiple of {MEGATRON_VOCAB_DIVISOR} * tp, i.e. {padded}"
             + (f" ({padded - vocab} padding rows the model did not count)"
                if padded != vocab else "")]
    if _text(cfg, "position_embedding", "learned") == "alibi":
        notes.append("Megatron-LM has no ALiBi; the command uses --position-embedding-type none "
                     "(no position parameters, as the model assumed) and the ALiBi bias must "
                     "come from a custom attention")
    iters = train_iters(cfg)
    if iters is None:
        notes.append("no finite token budget: add --train-iters or --train-samples")
    else:
        notes.append(f"--train-iters {iters} = ceil(tokens_budget / (global_batch * seq_len))")
    notes.append("data, tokenizer and optimizer settings are placeholders: set "
                 "$TOKENIZER_MODEL, $DATA_PATH and $EXTRA_ARGS (--lr, --min-lr, "
                 "--lr-decay-style, --save, --load, ...)")
    return notes


def _schedule_notes(cfg: Mapping[str, Any]) -> list[str]:
    """Pipeline schedules Megatron cannot run as modelled."""
    pp, vpp, schedule = _int(cfg, "pp"), _int(cfg, "vpp", 1), _schedule(cfg)
    if pp <= 1:
        return []
    if schedule == "gpipe":
        return ["Megatron-LM has no GPipe schedule; it runs 1F1B, which keeps at most pp "
                "micro-batches of activations in flight (less memory than modelled)"]
    if schedule == "interleaved" and vpp <= 1:
        return ["the interleaved schedule needs vpp > 1; with vpp = 1 Megatron runs 1F1B"]
    n_layers = _int(cfg, "n_layers")
    if vpp > 1 and n_layers % (pp * vpp):
        return [f"n_layers = {n_layers} is not divisible by pp * vpp = {pp * vpp}; the command "
                f"uses --num-virtual-stages-per-pipeline-rank {vpp}, which needs an uneven "
                f"layout (--decoder-first/last-pipeline-num-layers)"]
    return []


def _overlap_notes(cfg: Mapping[str, Any]) -> list[str]:
    """Overlaps the model assumed that the Megatron command drops."""
    notes = []
    tp, zero = _int(cfg, "tp"), _int(cfg, "zero_stage", 0)
    if _flag(cfg, "tp_comm_overlap") and tp > 1 and not _flag(cfg, "seq_parallel"):
        notes.append("--tp-comm-overlap dropped: Megatron allows it only with "
                     "--sequence-parallel")
    if _flag(cfg, "overlap_param_gather") and zero == 1 and not _flag(cfg, "overlap_grad_reduce"):
        notes.append("--overlap-param-gather dropped: Megatron requires --overlap-grad-reduce "
                     "with it")
    if _text(cfg, "precision", "bf16") == "fp8":
        notes.append("FP8 runs through Transformer Engine (--fp8-format hybrid, delayed "
                     "scaling by default) on a bf16 base")
    return notes


def _deepspeed_notes(cfg: Mapping[str, Any]) -> list[str]:
    """What the ZeRO-2/3 configs need besides the DeepSpeed launcher."""
    if not uses_deepspeed(cfg):
        return []
    stage = _int(cfg, "zero_stage")
    notes = [f"ZeRO-{stage} is modelled as DeepSpeed: launch with the deepspeed command and "
             f"{DS_CONFIG_FILE}; train.py is a DeepSpeed training script (e.g. Megatron-DeepSpeed "
             f"pretrain_gpt.py with the model flags of the torchrun command); the torchrun "
             f"command alone does not shard gradients or parameters"]
    if _int(cfg, "tp") > 1:
        notes.append("tensor parallelism under DeepSpeed needs a Megatron-style model "
                     "(Megatron-DeepSpeed) that passes its mpu to deepspeed.initialize")
    if _int(cfg, "cp", 1) > 1:
        notes.append("DeepSpeed has no ring-attention context parallelism; cp > 1 needs "
                     "Megatron-DeepSpeed's sequence parallelism or a custom attention")
    if _text(cfg, "recompute", "none") == "selective":
        notes.append("DeepSpeed activation checkpointing recomputes whole layers; selective "
                     "recomputation (attention core only) must be done by the training script")
    if _text(cfg, "precision", "bf16") == "fp8":
        notes.append("DeepSpeed has no FP8 switch: the training script must wrap layers in "
                     "Transformer Engine fp8_autocast")
    return notes


def launch_notes(cfg: Mapping[str, Any]) -> list[str]:
    """What the model assumed that the commands cannot express, in a fixed order.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (a row of the results table).

    Returns
    -------
    list of str
        One sentence per note.
    """
    return (_node_notes(cfg) + _model_notes(cfg) + _schedule_notes(cfg) + _overlap_notes(cfg)
            + _deepspeed_notes(cfg))


def launch_material(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Everything needed to launch ``cfg``.

    Parameters
    ----------
    cfg : Mapping[str, Any]
        The configuration (a row of the results table).

    Returns
    -------
    dict
        ``torchrun`` (str), ``deepspeed_config`` (pretty JSON with sorted keys, or
        None), ``deepspeed`` (str or None) and ``notes`` (list of str).
    """
    config = deepspeed_config(cfg)
    return {"torchrun": megatron_command(cfg),
            "deepspeed_config": None if config is None else config_json(config),
            "deepspeed": deepspeed_command(cfg),
            "notes": launch_notes(cfg)}
