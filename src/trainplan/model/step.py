"""One training step assembled from its stages: the orchestrator of the model.

:func:`evaluate_arrays` takes a mapping of numeric arrays (one entry per input
of :mod:`trainplan.schema.inputs`, already resolved from catalogs and
defaults) that broadcast against each other, and returns a
:class:`~trainplan.model.result.StepResult`. It has no Python loop over
configurations: a million rows or a broadcast grid of any shape go through
the same array expressions. It owns no equation; each stage is a function of
its own module:

1. parameters of each pipeline stage (:func:`~trainplan.model.params.stage_params`)
   and FLOPs of the step (:func:`~trainplan.model.step_flops.step_flop`);
2. memory of the busiest stage (:func:`~trainplan.model.memory.stage_memory`);
3. compute of one layer and of the first and last stages for one micro-batch
   (:mod:`~trainplan.model.compute`);
4. communication by dimension: TP and CP inside the layers
   (:mod:`~trainplan.model.communication`), DP/ZeRO and PP outside them
   (:mod:`~trainplan.model.step_communication`);
5. the pipeline: stage times and bubble (:func:`~trainplan.model.pipeline.stage_times`);
6. step time, throughput and cost (:mod:`~trainplan.model.throughput`);
7. the budget with failures, checkpoints and restarts, and the cost of owning
   (:func:`~trainplan.model.goodput.budget`);
8. feasibility flags (:func:`~trainplan.model.feasibility.step_flags`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace

import numpy as np

from trainplan.model import communication as cc
from trainplan.model import compute as cm
from trainplan.model import feasibility as fe
from trainplan.model import goodput as gp
from trainplan.model import memory as me
from trainplan.model import moe_step as ms
from trainplan.model import offload as of
from trainplan.model import params as pa
from trainplan.model import pipeline as pl
from trainplan.model import step_communication as sc
from trainplan.model import step_flops as sf
from trainplan.model import throughput as tu
from trainplan.model._array import ArrayLike
from trainplan.model.config import Architecture, Gpu, Layout, Links
from trainplan.model.labels import BOTTLENECK_PARTS, BOTTLENECKS, bottleneck_code  # noqa: F401
from trainplan.model.moe_recompute import moe_input_offload_bytes
from trainplan.model.result import StepResult

__all__ = ["BOTTLENECKS", "StepResult", "bottleneck_code", "evaluate_arrays"]


def evaluate_arrays(x: Mapping[str, ArrayLike]) -> StepResult:
    r"""
    Evaluate the step model on broadcasting arrays (see the module docstring).

    Parameters
    ----------
    x : mapping of str to array_like
        One array per input of :mod:`trainplan.schema.inputs`, resolved, with
        the units of its name (bytes, byte/s, FLOP/s, s; codes for the choices).

    Returns
    -------
    StepResult
        :meth:`~trainplan.model.result.StepResult.as_dict` gives the output
        columns of :mod:`trainplan.schema.outputs`, broadcast to their common shape.

    Notes
    -----
    .. math::

       T = m\,T_{stage} + T_{bubble} + T_{pp} + T_{dp} + T_{opt} + T_{0}

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2.2 and 5.1.
    .. [2] V. Korthikanti et al., arXiv:2205.05198, Sec. 4 and 5.
    """
    g = {k: np.asarray(v) for k, v in x.items()}
    arch = Architecture.from_arrays(g)
    lay = Layout.from_arrays(g, arch.seq_len, arch.n_layers, pl.split_credit(g, arch))
    gpu, links = Gpu.from_arrays(g), Links.from_arrays(g)
    par = pa.stage_params(arch, lay)
    flop = sf.step_flop(arch, lay, ms.variant_layer_forward_flop(
        lay.global_batch * arch.seq_len, arch))
    usable = me.usable_bytes(g["memory_capacity_bytes"], g["memory_reserve_fraction"],
                             g["cuda_context_bytes"])
    mem = me.stage_memory(arch, lay, par, g["grad_bytes_per_param"],
                          g["optimizer_bytes_per_param"], g["logits_bytes_per_element"],
                          g["zero3_max_live_params"], usable)
    layer = cm.layer_compute(arch, lay, gpu)
    # activations offloaded to host memory: the copies computation does not hide
    offload_layer_s = of.offload_exposed_layer_s(
        mem.activations_per_layer, gpu.host_byte_s, layer.forward_s, layer.backward_s,
        lay.offload_layers, lay.layers_per_stage) + of.offload_exposed_layer_s(
        moe_input_offload_bytes(arch, lay), gpu.host_byte_s, layer.forward_s,
        layer.backward_s, arch.moe_share * lay.layers_per_stage, lay.layers_per_stage)
    layer = replace(layer, total_s=layer.total_s + offload_layer_s)
    stages = cm.stage_compute(arch, lay, gpu, layer, g["logits_bytes_per_element"])
    tp = cc.tensor_parallel(arch, lay, links, layer, g["tp_algorithm"], g["tp_comm_overlap"],
                            g["tp_async_backward"])
    cp = cc.context_parallel(arch, lay, links, layer)
    ep = cc.expert_parallel(arch, lay, links, layer)
    collective_args = (g["dp_algorithm"], g["grad_reduce_bytes_per_param"],
                       g["zero3_collectives_per_layer"], g["zero3_call_host_s"])
    shard = sc.with_expert_collectives(
        sc.shard_collectives(lay, links, par.per_gpu - par.expert_per_gpu, *collective_args),
        sc.shard_collectives(replace(lay, shard_group=lay.expert_shard_group,
                                     tp=lay.etp * lay.ep), links, par.expert_per_gpu,
                             *collective_args),
        par.expert_per_gpu > 0)
    zero3 = sc.zero3_exposed(lay, links, shard, stages, layer, g["zero3_overlap"])
    times = pl.stage_times(lay, layer.total_s, tp.exposed_layer_s,
                           cp.exposed_layer_s + ep.exposed_layer_s, stages.first_s,
                           stages.last_s, zero3)
    pp = sc.pipeline_parallel(arch, lay, links)
    dp = sc.data_parallel(lay, links, layer, shard, zero3[0], zero3[1], times.last_slowest,
                          g["overlap_grad_reduce"], g["overlap_param_gather"])
    optimizer_s = cm.optimizer_step_s(par.per_gpu, lay.shard_group, lay.zero_stage,
                                      g["adam_step_bytes_per_param"], gpu.hbm_byte_s)
    step_s = tu.step_time_s(lay.n_microbatches, times.slowest_s, times.bubble_s, pp.exposed_s,
                            dp.exposed_after_stages_s, optimizer_s, g["step_overhead_s"])
    peak = np.where(lay.fp8, gpu.peak_fp8_flop_s, gpu.peak_16bit_flop_s)
    rate = tu.throughput(step_s, flop.tokens, flop.model, flop.hardware, lay.n_gpus, peak)
    cost = tu.training_cost(g["tokens_budget"], rate.tokens_per_s, lay.n_gpus,
                            g["price_per_gpu_hour_usd"], g["tdp_w"])
    plan = gp.budget(cost.time_to_train_days, lay.n_gpus, mem.weights + mem.optimizer, g)
    flags = fe.step_flags(g["n_gpus"], arch, lay, gpu, mem.fits, step_s)
    offload_s = offload_layer_s * lay.layers_per_stage * lay.n_microbatches
    return _result(par, lay, flop, mem, tp, cp, ep, dp, pp, times, optimizer_s,
                   step_s, rate, cost, flags, plan, offload_s)


def _result(par, lay, flop, mem, tp, cp, ep, dp, pp, times, optimizer_s, step_s, rate,
            cost, flags, plan, offload_s) -> StepResult:
    """The stages' results as the output fields."""
    def whole(x):
        return np.broadcast_to(x, np.shape(step_s)).astype(np.int64)

    return StepResult(
        params_total=par.total, params_active=par.active, params_per_gpu=par.per_gpu,
        n_microbatches=lay.n_microbatches,
        pp_layers_first=whole(lay.layers_first), pp_layers_last=whole(lay.layers_last),
        model_flop_per_step=flop.model, hardware_flop_per_step=flop.hardware,
        memory_weights_bytes=mem.weights, memory_gradients_bytes=mem.gradients,
        memory_optimizer_bytes=mem.optimizer, memory_activations_bytes=mem.activations,
        memory_other_bytes=mem.other, memory_total_bytes=mem.total,
        memory_usable_bytes=mem.usable, memory_headroom_bytes=mem.headroom,
        fits_memory=mem.fits,
        comm_tp_bytes_per_step=tp.bytes_per_step, comm_cp_bytes_per_step=cp.bytes_per_step,
        comm_ep_bytes_per_step=ep.bytes_per_step, comm_ep_time_s=ep.time_s,
        ep_exposed_s=ep.exposed_s,
        comm_dp_bytes_per_step=dp.bytes_per_step, comm_pp_bytes_per_step=pp.bytes_per_step,
        comm_tp_time_s=tp.time_s, comm_cp_time_s=cp.time_s, comm_pp_time_s=pp.time_s,
        comm_dp_time_s=dp.time_s, compute_time_s=times.compute_s,
        offload_exposed_s=np.broadcast_to(offload_s, np.shape(step_s)),
        tp_exposed_s=tp.exposed_s, cp_exposed_s=cp.exposed_s, dp_exposed_s=dp.exposed_s,
        pp_exposed_s=pp.exposed_s, bubble_time_s=times.bubble_s,
        bubble_fraction=times.bubble_fraction, optimizer_time_s=optimizer_s, step_time_s=step_s,
        tokens_per_s=rate.tokens_per_s, achieved_tflop_s_per_gpu=rate.achieved_tflop_s_per_gpu,
        mfu=rate.mfu, hfu=rate.hfu, time_to_train_days=cost.time_to_train_days,
        gpu_hours=cost.gpu_hours, cost_usd=cost.cost_usd, energy_mwh=cost.energy_mwh,
        **{f.name: getattr(plan, f.name) for f in fields(plan)},
        infeasible_flags=flags,
    )
