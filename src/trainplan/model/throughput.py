r"""Step time, throughput, utilisation and what training a token budget costs.

The step time of one iteration (one optimizer step over the global batch),
per data-parallel replica, is [1]_:

.. math::

   T = m\,T_{stage} + T_{bubble} + T_{pp} + T_{dp} + T_{opt} + T_{0}

micro-batches through the slowest stage, the pipeline fill and drain, the
pipeline point-to-point on the critical path, the data-parallel communication
left exposed after the pipeline, the optimizer update and a fixed overhead.

References
----------
.. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2.2 and 5.1 (step
   time, achieved teraFLOP/s per GPU).
.. [2] A. Chowdhery et al., "PaLM", arXiv:2204.02311, Appendix B (model and
   hardware FLOPs utilisation).
"""

from __future__ import annotations

from dataclasses import dataclass

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.constants import (
    FLOP_PER_TFLOP,
    JOULES_PER_MWH,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
)


def step_time_s(n_microbatches: ArrayLike, slowest_stage_s: ArrayLike, bubble_s: ArrayLike,
                pp_exposed_s: ArrayLike, dp_exposed_s: ArrayLike, optimizer_s: ArrayLike,
                overhead_s: ArrayLike) -> NDArrayFloat:
    r"""
    Time of one training step [1]_.

    Parameters
    ----------
    n_microbatches : array_like
        Micro-batches per replica, :math:`m` [-].
    slowest_stage_s : array_like
        One micro-batch through the slowest stage, :math:`T_{stage}` [s].
    bubble_s : array_like
        Pipeline fill and drain, :math:`T_{bubble}` [s].
    pp_exposed_s : array_like
        Pipeline point-to-point on the critical path, :math:`T_{pp}` [s].
    dp_exposed_s : array_like
        Data-parallel communication exposed after the pipeline, :math:`T_{dp}` [s].
    optimizer_s : array_like
        Optimizer update, :math:`T_{opt}` [s].
    overhead_s : array_like
        Fixed per-step overhead, :math:`T_0` [s].

    Returns
    -------
    numpy.ndarray
        Step time [s].

    Notes
    -----
    .. math::

       T = m\,T_{stage} + T_{bubble} + T_{pp} + T_{dp} + T_{opt} + T_{0}

    References
    ----------
    .. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
       Clusters Using Megatron-LM", SC21, arXiv:2104.04473, Sec. 2.2 and 5.1.
    """
    return (as_float(n_microbatches) * slowest_stage_s + bubble_s + pp_exposed_s + dp_exposed_s
            + optimizer_s + as_float(overhead_s))


@dataclass(frozen=True)
class Throughput:
    """What one step achieves."""

    tokens_per_s: NDArrayFloat
    """Training throughput of the whole job [tokens/s]."""
    achieved_tflop_s_per_gpu: NDArrayFloat
    """Model FLOPs per second per GPU [TFLOP/s]."""
    mfu: NDArrayFloat
    """Model FLOPs utilisation [-]."""
    hfu: NDArrayFloat
    """Hardware FLOPs utilisation [-]."""


def throughput(step_s: ArrayLike, tokens_per_step: ArrayLike, model_flop: ArrayLike,
               hardware_flop: ArrayLike, n_gpus: ArrayLike, peak_flop_s: ArrayLike) -> Throughput:
    r"""
    Tokens per second, achieved FLOP/s per GPU, MFU and HFU [1]_ [2]_.

    Parameters
    ----------
    step_s : array_like
        Step time, :math:`T` [s].
    tokens_per_step : array_like
        Tokens of one step, :math:`B s` [tokens].
    model_flop : array_like
        Model FLOPs of one step, :math:`F` [FLOP].
    hardware_flop : array_like
        Hardware FLOPs (with recomputation), :math:`F_{hw}` [FLOP].
    n_gpus : array_like
        GPUs of the job, :math:`N` [-].
    peak_flop_s : array_like
        Dense peak of the training precision per GPU, :math:`P` [FLOP/s].

    Returns
    -------
    Throughput

    Notes
    -----
    .. math::

       \text{MFU} = \frac{F}{T N P}, \quad \text{HFU} = \frac{F_{hw}}{T N P}

    References
    ----------
    .. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
       Clusters Using Megatron-LM", SC21, arXiv:2104.04473, Sec. 5.1.
    .. [2] A. Chowdhery et al., "PaLM", arXiv:2204.02311, Appendix B.
    """
    step, n, peak = as_float(step_s), as_float(n_gpus), as_float(peak_flop_s)
    achieved = model_flop / (step * n)
    return Throughput(tokens_per_s=tokens_per_step / step,
                      achieved_tflop_s_per_gpu=achieved / FLOP_PER_TFLOP,
                      mfu=achieved / peak,
                      hfu=hardware_flop / (step * n) / peak)


@dataclass(frozen=True)
class TrainingCost:
    """Training a token budget."""

    time_to_train_days: NDArrayFloat
    gpu_hours: NDArrayFloat
    cost_usd: NDArrayFloat
    energy_mwh: NDArrayFloat
    """GPU board power only."""


def training_cost(tokens_budget: ArrayLike, tokens_per_s: ArrayLike, n_gpus: ArrayLike,
                  price_per_gpu_hour_usd: ArrayLike, tdp_w: ArrayLike) -> TrainingCost:
    r"""
    Wall-clock days, GPU-hours, cost and energy of training ``tokens_budget`` tokens.

    Parameters
    ----------
    tokens_budget : array_like
        Tokens to train on, :math:`D` [tokens].
    tokens_per_s : array_like
        Throughput [tokens/s].
    n_gpus : array_like
        GPUs of the job, :math:`N` [-].
    price_per_gpu_hour_usd : array_like
        Price of one GPU-hour [USD].
    tdp_w : array_like
        Board power of one GPU [W].

    Returns
    -------
    TrainingCost

    Notes
    -----
    .. math::

       t = D / \text{tokens/s}, \quad \text{GPU-hours} = N t / 3600, \quad
       E = N\,\text{TDP}\, t / 3.6 \times 10^9\ \text{[MWh]}

    References
    ----------
    .. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
       Clusters Using Megatron-LM", SC21, arXiv:2104.04473, eq. (4) (end-to-end
       training time from the throughput).
    """
    train_s = as_float(tokens_budget) / tokens_per_s
    n = as_float(n_gpus)
    gpu_hours = n * train_s / SECONDS_PER_HOUR
    return TrainingCost(time_to_train_days=train_s / SECONDS_PER_DAY, gpu_hours=gpu_hours,
                        cost_usd=gpu_hours * as_float(price_per_gpu_hour_usd),
                        energy_mwh=n * as_float(tdp_w) * train_s / JOULES_PER_MWH)
