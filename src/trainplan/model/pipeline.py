r"""Pipeline-parallel schedules: the bubble, the micro-batches each stage holds, stage times.

The schedules are :class:`~trainplan.model.choices.Schedule` codes: GPipe [1]_,
1F1B (PipeDream-Flush) [2]_ and interleaved 1F1B with :math:`v` model chunks per
GPU [3]_. :data:`FIRST_STAGE_INFLIGHT` and :data:`LAST_STAGE_INFLIGHT` map each
schedule to the micro-batches its first and last stages hold.

References
----------
.. [1] Y. Huang et al., "GPipe", arXiv:1811.06965: all ``m`` forward passes,
   then all backward passes; bubble ``(p-1)/(m+p-1)`` of the step.
.. [2] D. Narayanan et al., "Memory-Efficient Pipeline-Parallel DNN
   Training" (PipeDream-2BW/Flush), arXiv:2006.09503; the first stage holds at
   most ``p`` micro-batches in flight.
.. [3] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2.2: the bubble
   shrinks to ``(p-1)/(v m)`` of the ideal time; Korthikanti et al.,
   arXiv:2205.05198, Sec. 4.2.3: the first stage's activation memory grows by
   ``1 + (p-1)/(p v)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, as_float
from trainplan.model.choices import SCHEDULE_NAMES, Schedule, dispatch
from trainplan.model.config import Architecture, Layout
from trainplan.model.flops import layer_forward_flop, logits_flop
from trainplan.model.moe_step import variant_layer_forward_flop
from trainplan.model.stages import last_stage_layer_credit

__all__ = [
    "FIRST_STAGE_INFLIGHT", "LAST_STAGE_INFLIGHT", "SCHEDULE_NAMES", "Schedule", "StageTimes",
    "bubble_fraction", "bubble_time_ratio", "inflight_microbatches_first_stage",
    "inflight_microbatches_last_stage", "last_stage_credit", "pipeline_efficiency", "split_credit",
    "stage_times",
]

_PMV = r"""
    Parameters
    ----------
    pp : array_like
        Pipeline stages, :math:`p` [-].
    n_microbatches : array_like
        Micro-batches per step, :math:`m` [-].
    vpp : array_like
        Model chunks per GPU, :math:`v` [-].
"""


def bubble_time_ratio(pp: ArrayLike, n_microbatches: ArrayLike, vpp: ArrayLike) -> NDArrayFloat:
    return (as_float(pp) - 1.0) / (as_float(vpp) * as_float(n_microbatches))


def bubble_fraction(pp: ArrayLike, n_microbatches: ArrayLike, vpp: ArrayLike) -> NDArrayFloat:
    p, m, v = as_float(pp), as_float(n_microbatches), as_float(vpp)
    return (p - 1.0) / (v * m + p - 1.0)


def pipeline_efficiency(pp: ArrayLike, n_microbatches: ArrayLike,
                        vpp: ArrayLike) -> NDArrayFloat:
    return 1.0 - bubble_fraction(pp, n_microbatches, vpp)


bubble_time_ratio.__doc__ = r"""
    Pipeline bubble relative to the ideal (bubble-free) time [1]_ [3]_.
""" + _PMV + r"""
    Returns
    -------
    numpy.ndarray
        Bubble / ideal time [-].

    Notes
    -----
    .. math::

       \frac{T_{bubble}}{T_{ideal}} = \frac{p - 1}{v\,m}
"""

bubble_fraction.__doc__ = r"""
    Share of the pipelined time spent idle [1]_ [3]_.
""" + _PMV + r"""
    Returns
    -------
    numpy.ndarray
        Bubble / (ideal + bubble) [-].

    Notes
    -----
    .. math::

       f = \frac{p - 1}{v\,m + p - 1}
"""

pipeline_efficiency.__doc__ = r"""
    Share of the pipelined time spent computing.

    Not the ``(m/p)/(m+p-1)`` of the notebook this project replaced [1]_.
""" + _PMV + r"""
    Returns
    -------
    numpy.ndarray
        Efficiency [-].

    Notes
    -----
    .. math::

       \eta = 1 - f = \frac{v\,m}{v\,m + p - 1}
"""


# --- micro-batches in flight, per schedule ------------------------------------------------------


def _gpipe_held(p, m, v):
    """GPipe: every micro-batch's activations until the backward starts."""
    return m


def _one_f_one_b_first(p, m, v):
    """1F1B, first stage: the ``p`` warm-up micro-batches (fewer if there are fewer)."""
    return np.minimum(p, m)


def _interleaved_first(p, m, v):
    """Interleaved first stage: ``p + (p-1)/v`` stage-equivalents of warm-up."""
    return np.minimum(p + (p - 1.0) / v, m)


def _one_f_one_b_last(p, m, v):
    """1F1B, last stage: one (each backward runs right after its forward)."""
    return 1.0


def _interleaved_last(p, m, v):
    """Interleaved last stage: its warm-up of ``(v-1) p`` chunks plus one, per chunk."""
    return np.minimum(((v - 1.0) * p + 1.0) / v, m)


FIRST_STAGE_INFLIGHT = {Schedule.GPIPE: _gpipe_held, Schedule.ONE_F_ONE_B: _one_f_one_b_first,
                        Schedule.INTERLEAVED: _interleaved_first}
"""Micro-batches the first stage holds, per :class:`~trainplan.model.choices.Schedule`."""

LAST_STAGE_INFLIGHT = {Schedule.GPIPE: _gpipe_held, Schedule.ONE_F_ONE_B: _one_f_one_b_last,
                       Schedule.INTERLEAVED: _interleaved_last}
"""Micro-batches the last stage holds, per :class:`~trainplan.model.choices.Schedule`."""

_SCHEDULE_PMV = r"""
    Parameters
    ----------
    schedule : array_like of int
        :class:`~trainplan.model.choices.Schedule` code per row.
    pp : array_like
        Pipeline stages, :math:`p` [-].
    n_microbatches : array_like
        Micro-batches per step, :math:`m` [-].
    vpp : array_like
        Model chunks per GPU, :math:`v` [-].

    Returns
    -------
    numpy.ndarray
        Micro-batches held, in units of one micro-batch through the whole stage
        (:math:`L/p` layers) [-].

    Raises
    ------
    ValueError
        For a schedule code without an entry in the registry.
"""


def inflight_microbatches_first_stage(schedule: ArrayLike, pp: ArrayLike,
                                      n_microbatches: ArrayLike, vpp: ArrayLike) -> NDArrayFloat:
    p, m, v = as_float(pp), as_float(n_microbatches), as_float(vpp)
    held = dispatch(schedule, FIRST_STAGE_INFLIGHT, p, m, v)
    # without a pipeline, micro-batches are plain gradient accumulation: one at a time
    return np.where(p > 1, held, np.minimum(m, 1.0))


def inflight_microbatches_last_stage(schedule: ArrayLike, pp: ArrayLike,
                                     n_microbatches: ArrayLike, vpp: ArrayLike) -> NDArrayFloat:
    p, m, v = as_float(pp), as_float(n_microbatches), as_float(vpp)
    last = dispatch(schedule, LAST_STAGE_INFLIGHT, p, m, v)
    return np.where(p > 1, last, inflight_microbatches_first_stage(schedule, pp,
                                                                   n_microbatches, vpp))


inflight_microbatches_first_stage.__doc__ = r"""
    Micro-batches whose activations the first stage holds at its peak [1]_ [2]_ [3]_.

    With :math:`p = 1` there is no pipeline and one micro-batch is held at a time.
""" + _SCHEDULE_PMV + r"""
    Notes
    -----
    .. math::

       n_{first} = \begin{cases} m & \text{GPipe} \\ \min(p, m) & \text{1F1B} \\
                   \min\left(p + \frac{p - 1}{v}, m\right) & \text{interleaved}
                   \end{cases}

    The interleaved count is :math:`L (1 + (p-1)/(p v))` layers' worth [3]_.
"""

inflight_microbatches_last_stage.__doc__ = r"""
    Micro-batches whose activations the last stage holds at its peak [1]_ [3]_.
""" + _SCHEDULE_PMV + r"""
    Notes
    -----
    .. math::

       n_{last} = \begin{cases} m & \text{GPipe} \\ 1 & \text{1F1B} \\
                  \min\left(\frac{(v - 1) p + 1}{v}, m\right) & \text{interleaved}
                  \end{cases}
"""


_REFERENCES = r"""
    References
    ----------
    .. [1] Y. Huang et al., "GPipe: Efficient Training of Giant Neural Networks
       using Pipeline Parallelism", arXiv:1811.06965.
    .. [2] D. Narayanan et al., "Memory-Efficient Pipeline-Parallel DNN
       Training", arXiv:2006.09503.
    .. [3] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2.2; V. Korthikanti
       et al., arXiv:2205.05198, Sec. 4.2.3.
"""

for _function in (bubble_time_ratio, bubble_fraction, pipeline_efficiency,
                  inflight_microbatches_first_stage, inflight_microbatches_last_stage):
    _function.__doc__ += _REFERENCES

# --- stage times --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageTimes:
    """Time of one micro-batch through the pipeline stages, and what it adds up to per step."""

    first_s: NDArrayFloat
    """First stage, one micro-batch [s]."""
    last_s: NDArrayFloat
    """Last stage, one micro-batch [s]."""
    slowest_s: NDArrayFloat
    """The slowest stage: first, last or (with uneven stages) a middle one [s]."""
    last_slowest: NDArrayBool
    """The last stage sets the pace."""
    average_s: NDArrayFloat
    """Mean over the ``p`` stages (middle stages hold only layers) [s]."""
    compute_s: NDArrayFloat
    """Computation of all micro-batches on the slowest stage, per step [s]."""
    bubble_s: NDArrayFloat
    """Pipeline fill and drain, per step [s]."""
    bubble_fraction: NDArrayFloat
    """:func:`bubble_fraction` [-]."""


def stage_times(layout: Layout, layer_compute_s: ArrayLike, layer_tp_exposed_s: ArrayLike,
                layer_cp_exposed_s: ArrayLike, compute_first_s: ArrayLike,
                compute_last_s: ArrayLike,
                zero3_exposed_s: tuple[ArrayLike, ArrayLike, ArrayLike]) -> StageTimes:
    r"""
    Time of one micro-batch through the first, last and middle stages, and the bubble.

    Parameters
    ----------
    layout : Layout
        Parallel layout (:math:`p`, :math:`v`, :math:`m`, the layers of each stage
        :math:`L_1`, :math:`\lceil L/p \rceil`, :math:`L_p`).
    layer_compute_s : array_like
        Computation of one layer, one micro-batch, :math:`t_l` [s].
    layer_tp_exposed_s, layer_cp_exposed_s : array_like
        Tensor- and context-parallel communication of one layer, one micro-batch, left
        exposed, :math:`c_{tp}`, :math:`c_{cp}` [s].
    compute_first_s, compute_last_s : array_like
        Computation of the first and last stages (layers, embedding, head), :math:`t_1`,
        :math:`t_p` [s].
    zero3_exposed_s : tuple of array_like
        ZeRO-3 gathers left exposed on the first, last and a middle stage, :math:`z_1`,
        :math:`z_p`, :math:`z_{mid}` [s].

    Returns
    -------
    StageTimes

    Notes
    -----
    .. math::

       T_1 = t_1 + L_1 (c_{tp} + c_{cp}) + z_1, \quad
       T_p = t_p + L_p (c_{tp} + c_{cp}) + z_p

       T_{mid} = \lceil L/p \rceil (t_l + c_{tp} + c_{cp}) + z_{mid}, \quad
       T_{max} = \max(T_1, T_p, [p > 2]\, T_{mid})

       \bar T = \frac{T_1 + T_p + (p - 2) T_{mid}}{p}, \quad
       T_{bubble} = \frac{p - 1}{v} \bar T

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2.2.
    """
    p, v, m, layers = layout.pp, layout.vpp, layout.n_microbatches, layout.layers_per_stage
    z_first, z_last, z_mid = zero3_exposed_s
    comm_layer = as_float(layer_tp_exposed_s) + as_float(layer_cp_exposed_s)
    first = compute_first_s + layout.layers_first * comm_layer + z_first
    last = compute_last_s + layout.layers_last * comm_layer + z_last
    middle = layers * (layer_compute_s + comm_layer) + z_mid
    has_middle = p > 2.0
    slowest = np.maximum(np.maximum(first, last), np.where(has_middle, middle, 0.0))
    last_slowest = last >= first
    middle_slowest = has_middle & (middle > np.maximum(first, last))
    slowest_compute = np.where(middle_slowest, layers * layer_compute_s,
                               np.where(last_slowest, compute_last_s, compute_first_s))
    average = np.where(layout.pipelined, (first + last + (p - 2.0) * middle) / p, slowest)
    return StageTimes(
        first_s=first, last_s=last, slowest_s=slowest, last_slowest=last_slowest,
        average_s=average,
        compute_s=m * slowest_compute,
        bubble_s=(p - 1.0) / v * average,
        bubble_fraction=bubble_fraction(p, m, v),
    )


def last_stage_credit(arch: Architecture) -> NDArrayFloat:
    r"""
    The last stage's output layers and MTP modules of a model, in whole layers.

    Parameters
    ----------
    arch : Architecture
        The model.

    Returns
    -------
    numpy.ndarray
        :func:`~trainplan.model.stages.last_stage_layer_credit` of the per-token forward
        FLOPs [-].

    Notes
    -----
    :math:`F_l` is the dense layer with the active MLP width plus its variant terms
    (:func:`~trainplan.model.moe_step.variant_layer_forward_flop`), :math:`F_h = 2 h V`.

    References
    ----------
    .. [1] NVIDIA-NeMo/Megatron-Bridge, ``recipes/deepseek/deepseek_v3.py``
       ``set_deepseek_v3_pipeline_model_parallel_layout``.
    """
    layer = layer_forward_flop(1.0, arch.seq_len, arch.hidden, arch.n_heads, arch.n_kv_heads,
                               arch.ffn_active, arch.gated_mlp)
    layer = layer + variant_layer_forward_flop(1.0, arch)[0]
    return last_stage_layer_credit(layer, logits_flop(1.0, arch.hidden, arch.vocab),
                                   arch.mtp_layers)


def split_credit(g: Mapping[str, np.ndarray], arch: Architecture) -> NDArrayFloat:
    r"""
    The credit the pipeline split gives the last stage under the configuration's framework.

    Parameters
    ----------
    g : Mapping[str, numpy.ndarray]
        The input columns (``pipeline_split_by_cost``).
    arch : Architecture
        The model.

    Returns
    -------
    numpy.ndarray
        :func:`last_stage_credit` where ``pipeline_split_by_cost``, else 0 (one layer fewer
        on the last stage, then on the first: :func:`~trainplan.model.stages.stage_layers`)
        [-].

    References
    ----------
    .. [1] NVIDIA Megatron-Core ``--pipeline-model-parallel-layout``; BigScience
       Megatron-DeepSpeed ``--pp-partition-method 'type:transformer|embedding'``.
    """
    by_cost = np.asarray(g.get("pipeline_split_by_cost", True)).astype(bool)
    return np.where(by_cost, last_stage_credit(arch), 0.0)
