"""Why a configuration cannot run, as bit flags (:class:`Reason`).

Infeasible configurations are kept and labelled, never dropped: every flag
has a sentence that the tables and reports print (:data:`REASONS`).
The strategy vocabulary moved to :mod:`trainplan.model.labels`; it is
re-exported here for the modules that import it from this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntFlag

import numpy as np

from trainplan.model import memory as me
from trainplan.model import params as pa
from trainplan.model import pipeline as pl
from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, NDArrayInt, as_float
from trainplan.model.choices import Recompute, Schedule
from trainplan.model.config import Architecture, Gpu, Layout
from trainplan.model.labels import (  # noqa: F401  (re-exported)
    STRATEGIES,
    STRATEGY_LABELS,
    strategy_code,
    strategy_index,
    strategy_label,
)


class Reason(IntFlag):
    """Why a configuration cannot run; one bit each (the values are stored in tables)."""

    DEGREES = 1
    LAYERS = 2
    HEADS = 4
    BATCH = 8
    SCHEDULE = 16
    CONTEXT = 32
    ZERO_PIPELINE = 64
    MEMORY = 128
    PRECISION = 256
    NO_TIME = 512
    EXPERTS = 1024
    OFFLOAD = 2048


DEGREES, LAYERS, HEADS, BATCH = Reason.DEGREES, Reason.LAYERS, Reason.HEADS, Reason.BATCH
SCHEDULE, CONTEXT, ZERO_PIPELINE = Reason.SCHEDULE, Reason.CONTEXT, Reason.ZERO_PIPELINE
MEMORY, PRECISION, NO_TIME = Reason.MEMORY, Reason.PRECISION, Reason.NO_TIME
EXPERTS, OFFLOAD = Reason.EXPERTS, Reason.OFFLOAD

REASONS = {
    Reason.DEGREES: "tp*pp*cp does not divide n_gpus (dp must be a whole number)",
    Reason.LAYERS: "fewer layers than pipeline stages, or n_layers (+1 or +2 for the "
                   "embedding and loss) not divisible by pp*vpp with interleaving",
    Reason.HEADS: "heads, kv heads or ffn width not divisible by tp",
    Reason.BATCH: "global_batch not divisible by dp*micro_batch",
    Reason.SCHEDULE: "interleaved schedule needs pp>1, vpp>1 and micro-batches divisible by pp "
                     "(vpp>1 needs the interleaved schedule)",
    Reason.CONTEXT: "seq_len not divisible by 2*cp",
    Reason.ZERO_PIPELINE: "ZeRO stage 2/3 cannot be combined with pipeline parallelism in this "
                          "framework (sharded_pipeline = false)",
    Reason.MEMORY: "does not fit in GPU memory",
    Reason.PRECISION: "the GPU does not support this precision",
    Reason.NO_TIME: "no finite step time (a bandwidth or efficiency of zero)",
    Reason.EXPERTS: "ep must divide n_experts, ep*etp must divide tp*cp*dp and etp the expert "
                    "width (ep and etp above 1, and recompute_moe, need a model with experts; "
                    "recompute_moe goes with recompute none or selective)",
    Reason.OFFLOAD: "activation offloading runs without pipeline parallelism and without "
                    "recomputation, and keeps at least one layer; offloading the experts' "
                    "inputs needs a model with experts, no full or whole-MoE-block "
                    "recomputation and no whole-layer offloading (Megatron-Core)",
}
"""The sentence of every :class:`Reason`."""


def _divides(a, b):
    """True where ``a`` divides ``b`` exactly (both positive)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    q = b / a
    return np.floor(q) == q


def structural_flags(n_gpus: ArrayLike, tp: ArrayLike, pp: ArrayLike, dp: ArrayLike,
                     cp: ArrayLike, vpp: ArrayLike, micro_batch: ArrayLike,
                     global_batch: ArrayLike, n_layers: ArrayLike, n_heads: ArrayLike,
                     n_kv_heads: ArrayLike, ffn_hidden: ArrayLike, seq_len: ArrayLike,
                     zero_stage: ArrayLike, schedule: ArrayLike,
                     sharded_pipeline: ArrayLike = False) -> NDArrayInt:
    r"""
    Bits of :class:`Reason` for the constraints that do not depend on memory.

    Parameters
    ----------
    n_gpus, tp, pp, dp, cp, vpp : array_like
        GPUs of the job, :math:`N`, and the degrees :math:`t, p, d, c, v` [-].
    micro_batch, global_batch : array_like
        :math:`b` and :math:`B` [sequences].
    n_layers, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`L`, :math:`a`, :math:`k_v`, :math:`f` [-].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    zero_stage, schedule : array_like of int
        ZeRO stage; :class:`~trainplan.model.choices.Schedule` code.
    sharded_pipeline : array_like of bool, optional
        The framework combines ZeRO-2/3 with pipeline parallelism [-].

    Returns
    -------
    numpy.ndarray
        Bit mask (int64) [-].

    Notes
    -----
    A bit is set when a whole-number condition fails: :math:`t p d c = N` with
    :math:`d \geq 1` whole; :math:`L \geq p` (uneven stages,
    :func:`~trainplan.model.stages.stage_layers`; stages one layer short, as Megatron-Core's
    ``--pipeline-model-parallel-layout`` places them) and :math:`p v \mid L + e`,
    :math:`e \in \{0, 1, 2\}`, with interleaving (embedding and loss counted in the split);
    :math:`t \mid a, k_v, f`;
    :math:`d b \mid B`; interleaving needs :math:`v, p \geq 2` and :math:`p \mid m`
    (and :math:`v > 1` needs interleaving); :math:`2 c \mid s` (load-balanced causal
    ring attention); ZeRO 2/3 without a pipeline unless the framework shards across
    pipeline stages (``sharded_pipeline``: TorchTitan's FSDP2 + PP [3]_).

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2 and 3.
    .. [2] DeepSpeed documentation, pipeline parallelism (ZeRO stages 2 and 3 are
       not supported with pipeline parallelism).
    .. [3] W. Liang et al., "TorchTitan", arXiv:2410.06511, Sec. 3.1 (FSDP2 composed with
       pipeline parallelism).
    """
    tp, pp, dp, cp, vpp = (np.asarray(x, dtype=np.float64) for x in (tp, pp, dp, cp, vpp))
    whole_dp = (dp >= 1) & (np.floor(dp) == dp)
    flags = np.where((tp * pp * dp * cp != np.asarray(n_gpus, dtype=np.float64)) | ~whole_dp,
                     int(DEGREES), 0)
    n_layers = np.asarray(n_layers, dtype=np.float64)
    chunks = pp * vpp
    # interleaving: pp*vpp chunks of equal size, the embedding and the loss may count as one
    # layer each (Megatron-Core --account-for-embedding/loss-in-pipeline-split)
    interleave_ok = (_divides(chunks, n_layers) | _divides(chunks, n_layers + 1.0)
                     | _divides(chunks, n_layers + 2.0))
    layers_ok = np.where(vpp > 1, interleave_ok & (n_layers >= chunks - 2.0), n_layers >= pp)
    flags = flags | np.where(layers_ok, 0, int(LAYERS))
    heads_ok = _divides(tp, n_heads) & _divides(tp, n_kv_heads) & _divides(tp, ffn_hidden)
    flags = flags | np.where(heads_ok, 0, int(HEADS))
    flags = flags | np.where(_divides(dp * np.asarray(micro_batch, np.float64), global_batch),
                             0, int(BATCH))
    m = np.asarray(global_batch, np.float64) / (dp * np.asarray(micro_batch, np.float64))
    interleaved = np.asarray(schedule) == Schedule.INTERLEAVED
    bad_schedule = np.where(interleaved, (vpp < 2) | (pp < 2) | ~_divides(pp, m), vpp > 1)
    flags = flags | np.where(bad_schedule, int(SCHEDULE), 0)
    flags = flags | np.where((cp > 1) & ~_divides(2.0 * cp, seq_len), int(CONTEXT), 0)
    flags = flags | np.where((np.asarray(zero_stage) >= 2) & (pp > 1)
                             & ~np.asarray(sharded_pipeline, dtype=bool), int(ZERO_PIPELINE), 0)
    return flags.astype(np.int64)


def offload_flags(arch: Architecture, layout: Layout) -> NDArrayInt:
    r"""
    The OFFLOAD bit: activation offloading combined with what it cannot run with.

    Parameters
    ----------
    arch : Architecture
        The model (its share of MoE layers) [-].
    layout : Layout
        Offloaded layers :math:`o`, pipeline degree :math:`p`, recomputation,
        ``offload_moe_inputs`` [-].

    Returns
    -------
    numpy.ndarray
        OFFLOAD where :math:`o > 0` with :math:`p > 1`, any recomputation or
        :math:`o \geq L_s`; or where the experts' inputs are offloaded in a dense model,
        under full or whole-MoE-block recomputation (nothing is left to offload) or with
        whole layers offloaded; else 0 (int64).

    References
    ----------
    .. [1] NVIDIA Megatron-Core ``TransformerConfig.__post_init__``: no pipeline parallelism
       with CPU offloading, CPU offloading does not work with activation recomputation, and
       ``cpu_offloading_num_layers`` must be below the number of layers.
    .. [2] NVIDIA Megatron-Core, "Fine-grained Activation Offloading" (``--offload-modules``).
    """
    o = layout.offload_layers
    bad = (o > 0) & ((layout.pp > 1) | (np.asarray(layout.recompute) != Recompute.NONE)
                     | np.asarray(layout.recompute_moe, dtype=bool)
                     | (o >= layout.layers_per_stage))
    inputs = np.asarray(layout.offload_moe_inputs, dtype=bool)
    bad = bad | (inputs & ((as_float(arch.moe_share) <= 0) | (o > 0)
                           | (np.asarray(layout.recompute) == Recompute.FULL)
                           | np.asarray(layout.recompute_moe, dtype=bool)))
    return np.where(bad, int(OFFLOAD), 0).astype(np.int64)


def expert_flags(arch: Architecture, layout: Layout) -> NDArrayInt:
    r"""
    The EXPERTS bit: expert parallelism that does not divide.

    Parameters
    ----------
    arch : Architecture
        Routed experts :math:`E` (0: dense) and their width :math:`f_e` [-].
    layout : Layout
        Degrees :math:`t, c, d`, expert-parallel :math:`ep` and expert tensor-parallel
        :math:`e_t` [-].

    Returns
    -------
    numpy.ndarray
        Bit mask (int64) [-].

    Notes
    -----
    Megatron-Core folds the expert groups into the ranks of one pipeline stage: the
    :math:`t c d` ranks are split into :math:`e_t \cdot ep` expert model-parallel ranks
    times an expert data-parallel group, so :math:`e_t\,ep \mid t c d`; each of the
    :math:`ep` ranks holds :math:`E / ep` whole experts (:math:`ep \mid E`) and
    :math:`e_t \mid f_e`. A dense model takes :math:`ep = e_t = 1`. ``recompute_moe``
    needs experts and recomputation other than full (which repeats the blocks already).

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README, "MoE parallel folding" and its arguments
       (``--expert-model-parallel-size``, ``--expert-tensor-parallel-size``).
    """
    ep, etp = layout.ep, layout.etp
    moe = arch.n_experts > 0
    ok = np.where(moe, _divides(ep, np.maximum(arch.n_experts, 1.0))
                  & _divides(ep * etp, layout.tp * layout.cp * layout.dp)
                  & _divides(etp, arch.moe_ffn_hidden), (ep == 1) & (etp == 1))
    # recomputing whole MoE blocks needs them, and full recomputation already repeats them
    block = np.asarray(layout.recompute_moe, dtype=bool)
    ok = ok & ~(block & (~moe | (np.asarray(layout.recompute) == Recompute.FULL)))
    return np.where(ok, 0, int(EXPERTS)).astype(np.int64)


def step_flags(n_gpus: ArrayLike, arch: Architecture, layout: Layout, gpu: Gpu,
               fits_memory: NDArrayBool, step_time_s: ArrayLike) -> NDArrayInt:
    r"""
    All bits of :class:`Reason` of a step.

    Parameters
    ----------
    n_gpus : array_like
        GPUs of the job [-].
    arch, layout, gpu : Architecture, Layout, Gpu
        The model, the layout and the accelerator (its peaks).
    fits_memory : array_like of bool
        The busiest stage fits in the usable memory.
    step_time_s : array_like
        Step time [s].

    Returns
    -------
    numpy.ndarray
        Bit mask (int64) [-].

    Notes
    -----
    :func:`structural_flags`, plus MEMORY when it does not fit, PRECISION when the
    GPU has no peak for the precision (NaN), and NO_TIME when a supported
    precision gives no finite step time.

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2 and 3.
    """
    flags = structural_flags(n_gpus, layout.tp, layout.pp, layout.dp, layout.cp, layout.vpp,
                             layout.micro_batch, layout.global_batch, arch.n_layers,
                             arch.n_heads, arch.n_kv_heads, arch.ffn_hidden, arch.seq_len,
                             layout.zero_stage, layout.schedule, layout.sharded_pipeline)
    flags = flags | np.where(fits_memory, 0, int(MEMORY)) | expert_flags(arch, layout) \
        | offload_flags(arch, layout)
    unsupported = np.isnan(gpu.peak_16bit_flop_s) | (layout.fp8 & np.isnan(gpu.peak_fp8_flop_s))
    flags = flags | np.where(unsupported, int(PRECISION), 0)
    return flags | np.where(~unsupported & ~np.isfinite(as_float(step_time_s)), int(NO_TIME), 0)


def precision_flags(gpu: Gpu, fp8: ArrayLike) -> NDArrayInt:
    r"""
    The PRECISION bit: the GPU has no peak for the precision.

    Parameters
    ----------
    gpu : Gpu
        The accelerator (its 16-bit and FP8 peaks; NaN: not supported).
    fp8 : array_like of bool
        Linear layers in FP8.

    Returns
    -------
    numpy.ndarray
        :data:`PRECISION` where unsupported, else 0 (int64) [-].

    References
    ----------
    .. [1] NVIDIA, "Transformer Engine: FP8 support" (Hopper and later).
    """
    fp8_missing = np.asarray(fp8) & np.isnan(gpu.peak_fp8_flop_s)
    unsupported = np.isnan(gpu.peak_16bit_flop_s) | fp8_missing
    return np.where(unsupported, int(PRECISION), 0).astype(np.int64)


def early_flags(g: Mapping[str, np.ndarray]) -> tuple[NDArrayInt, NDArrayFloat]:
    r"""
    Every bit of :class:`Reason` but NO_TIME, and the memory per GPU, without the step time.

    Parameters
    ----------
    g : mapping of str to array_like
        The resolved model inputs, as :func:`~trainplan.model.step.evaluate_arrays`
        takes them (broadcasting arrays).

    Returns
    -------
    flags : numpy.ndarray
        :func:`structural_flags` | MEMORY | PRECISION | EXPERTS | OFFLOAD (int64) [-].
    memory_total : numpy.ndarray
        Memory of the busiest stage, :func:`~trainplan.model.memory.stage_memory` [bytes].

    Notes
    -----
    The same calls as the step model makes, in the same order, so every value is
    bit-identical to the full evaluation's; the arrays broadcast only over the
    inputs they read (the layout, the model and the GPU memory, not the network,
    the collective algorithms or the prices), which makes them a small sub-product
    of a grid. The only bit of :func:`step_flags` left out is NO_TIME, which needs
    the step time.

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Table 1.
    .. [2] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.
    """
    arch = Architecture.from_arrays(g)
    lay = Layout.from_arrays(g, arch.seq_len, arch.n_layers, pl.split_credit(g, arch))
    gpu = Gpu.from_arrays(g)
    usable = me.usable_bytes(g["memory_capacity_bytes"], g["memory_reserve_fraction"],
                             g["cuda_context_bytes"])
    mem = me.stage_memory(arch, lay, pa.stage_params(arch, lay), g["grad_bytes_per_param"],
                          g["optimizer_bytes_per_param"], g["logits_bytes_per_element"],
                          g["zero3_max_live_params"], usable)
    flags = structural_flags(g["n_gpus"], lay.tp, lay.pp, lay.dp, lay.cp, lay.vpp,
                             lay.micro_batch, lay.global_batch, arch.n_layers, arch.n_heads,
                             arch.n_kv_heads, arch.ffn_hidden, arch.seq_len, lay.zero_stage,
                             lay.schedule, lay.sharded_pipeline)
    flags = flags | np.where(mem.fits, 0, int(MEMORY)) | precision_flags(gpu, lay.fp8) \
        | expert_flags(arch, lay) | offload_flags(arch, lay)
    return flags.astype(np.int64), mem.total


def reason_text(flags: ArrayLike) -> np.ndarray:
    r"""
    Sentences of each flag value, joined by "; " (``""`` for a feasible configuration).

    Parameters
    ----------
    flags : array_like
        Bit masks of :class:`Reason` [-].

    Returns
    -------
    numpy.ndarray
        Object array of sentences of :data:`REASONS`, one per value.

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2 and 3 (the constraints).
    """
    flags = np.asarray(flags, dtype=np.int64)
    uniques, inverse = np.unique(flags, return_inverse=True)
    texts = np.array(
        ["; ".join(text for bit, text in REASONS.items() if int(u) & bit) for u in uniques],
        dtype=object,
    )
    return texts[inverse].reshape(flags.shape)
