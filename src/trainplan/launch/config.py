"""One configuration, parsed once: the fields the launch material needs, typed and checked.

A row of the results table (or an ``analysis.json`` configuration) stores integers as
floats today (``8.0``) and as integers tomorrow (``Int64``); missing values arrive as
``None`` or NaN. :meth:`LaunchConfig.from_row` turns such a row into a frozen dataclass of
Python ``int``, ``bool``, ``str`` and ``float`` values, taking every default from the input
table (:data:`trainplan.schema.inputs.INPUT_BY_NAME`), so the Megatron-LM, DeepSpeed and
notes modules never re-read or re-parse the mapping.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from trainplan import catalog
from trainplan.model.stages import stage_layers
from trainplan.schema.inputs import INPUT_BY_NAME, InputError

EXPANDABLE_SEGMENTS = "expandable_segments:True"
"""The ``PYTORCH_CUDA_ALLOC_CONF`` setting a plan below the caching allocator's reserve
assumes (:attr:`LaunchConfig.allocator_env`)."""

# ---- parsing one value ------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    """True for None and NaN (how tables and JSON spell a blank)."""
    if value is None:
        return True
    return _is_number(value) and math.isnan(float(value))


def _is_number(value: Any) -> bool:
    """True for real numbers (Python or numpy), False for booleans and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _check_range(key: str, number: float) -> None:
    """Raise when ``number`` is outside the input table's minimum and maximum for ``key``
    (an output column: below 0)."""
    spec = INPUT_BY_NAME.get(key)
    if spec is None:
        if number < 0:
            raise InputError(f"{key} = {number!r} is below its minimum 0")
        return
    if spec.minimum is not None and number < spec.minimum:
        raise InputError(f"{key} = {number!r} is below its minimum {spec.minimum}")
    if spec.maximum is not None and number > spec.maximum:
        raise InputError(f"{key} = {number!r} is above its maximum {spec.maximum}")


def _parse_int(key: str, value: Any) -> int:
    """A whole number (``8``, ``8.0``, numpy integers) as a Python ``int`` within its range."""
    if not _is_number(value):
        raise InputError(f"{key} = {value!r} is not a number")
    if not isinstance(value, numbers.Integral):
        if not float(value).is_integer():
            raise InputError(f"{key} = {value!r} is not a whole number")
        value = float(value)
    number = int(value)
    _check_range(key, number)
    return number


def _parse_flag(key: str, value: Any) -> bool:
    """A boolean: ``True``/``False``, numpy booleans, or the numbers 0 and 1."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if _is_number(value) and float(value) in (0.0, 1.0):
        return bool(value)
    raise InputError(f"{key} = {value!r} is not a boolean")


def _parse_choice(key: str, value: Any) -> str:
    """A stripped, lower-cased word that the input table allows for ``key``."""
    if not isinstance(value, str):
        raise InputError(f"{key} = {value!r} is not a word")
    word = value.strip().lower()
    choices = INPUT_BY_NAME[key].choices
    if word not in choices:
        raise InputError(f"{key} = {value!r} is not one of {', '.join(choices)}")
    return word


def _parse_budget(key: str, value: Any) -> float | None:
    """A non-negative number, or None when it is infinite (no finite budget)."""
    if not _is_number(value):
        raise InputError(f"{key} = {value!r} is not a number")
    number = float(value)
    _check_range(key, number)
    return number if math.isfinite(number) else None


def _parse_number(key: str, value: Any) -> float:
    """A finite number within its range."""
    if not _is_number(value) or not math.isfinite(float(value)):
        raise InputError(f"{key} = {value!r} is not a finite number")
    number = float(value)
    _check_range(key, number)
    return number


def printable(text: str) -> str:
    """``text`` with every unprintable character (newline, tab, control) replaced by ``?``:
    safe inside a one-line comment of a shell script or a TOML file."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _parse_label(key: str, value: Any) -> str:
    """A catalog name as printable text (only printed, never interpreted): a newline in a
    sweep's model name must not end the comment line it is printed in."""
    return printable(str(value))


def _spec(parse: Callable[[str, Any], Any], optional: bool = False) -> Any:
    """A dataclass field that ``from_row`` fills with ``parse``; optional ones may stay None."""
    return field(metadata={"parse": parse, "optional": optional})


# ---- the configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchConfig:
    """The fields of one configuration that the launch material uses, parsed and checked.

    Build it with :meth:`from_row`. Field names and meanings are those of the input
    table (:mod:`trainplan.schema.inputs`); units are the table's.
    """

    model: str | None = _spec(_parse_label, optional=True)
    """Model catalog entry, printed in the command's header."""
    gpu: str | None = _spec(_parse_label, optional=True)
    """Accelerator catalog entry, printed in the command's header."""
    framework: str | None = _spec(_parse_label, optional=True)
    """Framework catalog entry: which launch material is the main one."""
    n_layers: int = _spec(_parse_int)
    hidden: int = _spec(_parse_int)
    n_heads: int = _spec(_parse_int)
    n_kv_heads: int = _spec(_parse_int)
    """Key/value heads; a row without it has multi-head attention (= n_heads)."""
    ffn_hidden: int = _spec(_parse_int)
    vocab: int = _spec(_parse_int)
    """Tokenizer vocabulary (before Megatron's padding)."""
    gated_mlp: bool = _spec(_parse_flag)
    tied_embeddings: bool = _spec(_parse_flag)
    linear_bias: bool = _spec(_parse_flag)
    dropout: bool = _spec(_parse_flag)
    position_embedding: str = _spec(_parse_choice)
    norm: str = _spec(_parse_choice)
    seq_len: int = _spec(_parse_int)
    global_batch: int = _spec(_parse_int)
    precision: str = _spec(_parse_choice)
    tokens_budget: float | None = _spec(_parse_budget, optional=True)
    """Tokens to train on [tokens]; None when missing or not finite."""
    n_gpus: int = _spec(_parse_int)
    gpus_per_node: int = _spec(_parse_int)
    tp: int = _spec(_parse_int)
    pp: int = _spec(_parse_int)
    dp: int = _spec(_parse_int)
    cp: int = _spec(_parse_int)
    vpp: int = _spec(_parse_int)
    micro_batch: int = _spec(_parse_int)
    zero_stage: int = _spec(_parse_int)
    recompute: str = _spec(_parse_choice)
    schedule: str = _spec(_parse_choice)
    """As given (``auto`` included); :attr:`pipeline_schedule` resolves ``auto``."""
    seq_parallel: bool = _spec(_parse_flag)
    flash_attention: bool = _spec(_parse_flag)
    overlap_grad_reduce: bool = _spec(_parse_flag)
    overlap_param_gather: bool = _spec(_parse_flag)
    tp_comm_overlap: bool = _spec(_parse_flag)
    zero3_reshard_after_forward: bool = _spec(_parse_flag)
    """ZeRO-3 / FSDP frees the gathered parameters after the forward (else keeps them)."""
    zero3_max_live_params: int = _spec(_parse_int)
    """DeepSpeed ``stage3_max_live_parameters`` [parameters]."""
    fp8_recipe: str = _spec(_parse_choice)
    recompute_fraction: float = _spec(_parse_number)
    activation_offload_fraction: float | None = _spec(_parse_number, optional=True)
    """Share of the stage's layers whose activations go to host memory (absent: none)."""
    fp8_param_gather: bool = _spec(_parse_flag)
    grad_bytes_per_param: float = _spec(_parse_number)
    """Gradient bytes per parameter the memory model assumed [bytes]."""
    grad_reduce_bytes_per_param: float = _spec(_parse_number)
    """Bytes per parameter of the gradient reduction the model assumed [bytes]."""
    # --- attention variants and experts (defaults: dense, h/a-wide heads) ---
    head_dim: int = _spec(_parse_int)
    qk_norm: bool = _spec(_parse_flag)
    mtp_layers: int = _spec(_parse_int)
    kv_lora_rank: int = _spec(_parse_int)
    q_lora_rank: int = _spec(_parse_int)
    qk_nope_head_dim: int = _spec(_parse_int)
    qk_rope_head_dim: int = _spec(_parse_int)
    v_head_dim: int = _spec(_parse_int)
    n_experts: int = _spec(_parse_int)
    top_k: int = _spec(_parse_int)
    moe_ffn_hidden: int = _spec(_parse_int)
    n_shared_experts: int = _spec(_parse_int)
    shared_ffn_hidden: int = _spec(_parse_int)
    first_dense_layers: int = _spec(_parse_int)
    moe_layer_step: int = _spec(_parse_int)
    router_bias: bool = _spec(_parse_flag)
    ep: int = _spec(_parse_int)
    etp: int = _spec(_parse_int)
    moe_dispatcher: str = _spec(_parse_choice)
    moe_router_group_topk: int = _spec(_parse_int)
    # --- the pipeline split the model priced (output columns; absent: stage_layers) ---
    pp_layers_first: int | None = _spec(_parse_int, optional=True)
    pp_layers_last: int | None = _spec(_parse_int, optional=True)
    moe_a2a_overlap: bool = _spec(_parse_flag)
    recompute_moe: bool = _spec(_parse_flag)
    offload_moe_inputs: bool = _spec(_parse_flag)
    moe_capacity_factor: float = _spec(_parse_number)
    scaleup_domain_gpus: int | None = _spec(_parse_int, optional=True)
    """GPUs of one NVLink domain (not given: one node)."""
    memory_reserve_fraction: float = _spec(_parse_number)
    """Share of GPU memory the memory plan kept free (not given: the input's default)."""

    def __post_init__(self) -> None:
        """Refuse a batch that Megatron and DeepSpeed both refuse."""
        per_step = self.dp * self.micro_batch
        if self.global_batch % per_step:
            raise InputError(f"global_batch = {self.global_batch} is not divisible by "
                             f"dp * micro_batch = {per_step}")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LaunchConfig:
        """Parse and check the launch fields of ``row`` once.

        Parameters
        ----------
        row : Mapping[str, Any]
            A configuration: a row of the results table (``DataFrame.to_dicts()``) or the
            ``config`` of an ``analysis.json`` reference. Other keys are ignored.

        Returns
        -------
        LaunchConfig
            Integers as ``int`` (``8``, ``8.0`` and numpy integers alike), flags as
            ``bool``, words stripped and lower-cased. A missing, None or NaN value takes
            the input table's default; ``n_kv_heads`` defaults to ``n_heads``.

        Raises
        ------
        trainplan.InputError
            (a ``ValueError``) naming the key: a required value is missing, a value has
            the wrong type, is not a whole number, is outside the table's range or
            choices, or ``global_batch`` is not a multiple of ``dp * micro_batch``.
        """
        values: dict[str, Any] = {}
        for spec in fields(cls):
            value = row.get(spec.name)
            if _is_missing(value):
                value = _default(spec.name, values)
            if _is_missing(value):
                if not spec.metadata["optional"]:
                    raise InputError(f"configuration has no value for {spec.name!r}")
                values[spec.name] = None
            else:
                values[spec.name] = spec.metadata["parse"](spec.name, value)
        return cls(**values)

    @property
    def rotary_base(self) -> float | None:
        """RoPE base frequency of the model's catalog entry (``rope_theta``, e.g. 500,000 for
        Llama 3); None for a model given inline, or without rotary positions."""
        if self.position_embedding != "rope" or self.model is None:
            return None
        entry = catalog.find_model(self.model)
        theta = entry.get("rope_theta") if entry else None
        return float(theta) if isinstance(theta, int | float) and theta > 0 else None

    @property
    def n_nodes(self) -> int:
        """Nodes the job spans: ``ceil(n_gpus / gpus_per_node)``."""
        return -(-self.n_gpus // self.gpus_per_node)

    @property
    def procs_per_node(self) -> int:
        """Processes started per node: ``min(gpus_per_node, n_gpus)``."""
        return min(self.gpus_per_node, self.n_gpus)

    @property
    def grad_accumulation_steps(self) -> int:
        """Micro-batches per step and data-parallel rank: ``global_batch / (dp * micro_batch)``."""
        return self.global_batch // (self.dp * self.micro_batch)

    @property
    def train_iters(self) -> int | None:
        """Steps that consume the budget, ``ceil(tokens_budget / (global_batch * seq_len))``.

        None when there is no finite token budget.
        """
        if self.tokens_budget is None:
            return None
        return math.ceil(self.tokens_budget / (self.global_batch * self.seq_len))

    @property
    def allocator_env(self) -> list[str]:
        """A comment and ``export PYTORCH_CUDA_ALLOC_CONF=...expandable_segments:True``
        (appended to a value already set) when the plan kept less memory free than the
        caching allocator's reserve (``memory_reserve_fraction`` below its input default),
        as the NeMo and TorchTitan launch scripts run; else nothing."""
        caching = INPUT_BY_NAME["memory_reserve_fraction"].default
        if self.memory_reserve_fraction >= caching:
            return []
        return [f"# the memory plan keeps {self.memory_reserve_fraction:.0%} of the GPU free, "
                f"not the caching allocator's {caching:.0%}: it assumes expandable segments",
                'export PYTORCH_CUDA_ALLOC_CONF="${PYTORCH_CUDA_ALLOC_CONF:+'
                f'$PYTORCH_CUDA_ALLOC_CONF,}}{EXPANDABLE_SEGMENTS}"']

    @property
    def is_torchtitan(self) -> bool:
        """The framework is TorchTitan (FSDP2), whose TOML replaces the DeepSpeed config."""
        return (self.framework or "").strip().lower() == "torchtitan"

    def stage_split(self) -> tuple[int, int, int]:
        """Layers of the first, a full middle and the last pipeline stage: the split the
        model priced (``pp_layers_first``, ``pp_layers_last``), else
        :func:`~trainplan.model.stages.stage_layers` without the last stage's credit."""
        busiest = math.ceil(self.n_layers / self.pp)
        if self.pp_layers_first is not None and self.pp_layers_last is not None:
            return self.pp_layers_first, busiest, self.pp_layers_last
        first, _, last = (int(x) for x in stage_layers(self.n_layers, self.pp))
        return first, busiest, last

    @property
    def uses_megatron_fsdp(self) -> bool:
        """ZeRO stages 2 and 3 under Megatron-Core or NeMo: Megatron-FSDP shards
        (``--use-megatron-fsdp``), with Megatron's gradient and optimizer bytes."""
        return self.zero_stage >= 2 and (self.framework or "").strip().lower() in (
            "megatron-core", "nemo")

    @property
    def uses_deepspeed(self) -> bool:
        """ZeRO stages 2 and 3 run on DeepSpeed (stage 1 is Megatron's distributed optimizer),
        unless the framework is TorchTitan, whose FSDP2 shards instead, or Megatron-Core /
        NeMo (Megatron-FSDP)."""
        return self.zero_stage >= 2 and not self.is_torchtitan and not self.uses_megatron_fsdp

    @property
    def pipeline_schedule(self) -> str:
        """The pipeline schedule with ``auto`` resolved (interleaved when vpp > 1, else 1f1b)."""
        if self.schedule == "auto":
            return "interleaved" if self.vpp > 1 else "1f1b"
        return self.schedule


def _default(name: str, parsed: Mapping[str, Any]) -> Any:
    """The input table's default for ``name`` (``n_kv_heads``: the parsed ``n_heads``;
    output columns: none)."""
    if name == "n_kv_heads":
        return parsed.get("n_heads")
    return INPUT_BY_NAME[name].default if name in INPUT_BY_NAME else None
