"""One training step assembled from the pieces: memory, compute, communication, pipeline.

:func:`evaluate_arrays` takes a mapping of numeric arrays (one entry per input
of :mod:`trainplan.inputs`, already resolved from catalogs and defaults) that
broadcast against each other, and returns a dict of output arrays. It has no
Python loop over configurations: a million rows or a broadcast grid of any
shape go through the same array expressions.

Step time of one iteration (one optimizer step over ``global_batch``
sequences), per data-parallel replica::

    T = m * t_stage_max          micro-batches through the slowest stage
      + (p - 1)/v * t_stage_avg  pipeline fill and drain (bubble)
      + t_pp_exposed             pipeline point-to-point on the critical path
      + t_dp_exposed             gradient reduction / parameter gather left over
      + t_optimizer              the Adam update (HBM bound)
      + t_overhead               fixed per-step overhead

where ``t_stage`` is the time of one micro-batch (forward, backward,
recomputation) through the layers of one stage, including the tensor- and
context-parallel communication it cannot hide and, under ZeRO-3, the parameter
gathers it cannot hide.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trainplan.model import collectives as co
from trainplan.model import compute as cm
from trainplan.model import feasibility as fe
from trainplan.model import flops as fl
from trainplan.model import memory as me
from trainplan.model import params as pa
from trainplan.model import pipeline as pl

ACTIVATION_BYTES = me.ACTIVATION_BYTES
PARAM_BYTES = me.PARAM_BYTES

BOTTLENECKS = ("compute", "tensor-parallel communication", "context-parallel communication",
               "data-parallel communication", "pipeline bubble", "pipeline communication",
               "optimizer step")


BOTTLENECK_PARTS = ("compute_time_s", "tp_exposed_s", "cp_exposed_s", "dp_exposed_s",
                    "bubble_time_s", "pp_exposed_s", "optimizer_time_s")


def _f(x):
    return np.asarray(x, dtype=np.float64)


def bottleneck_code(outputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Index into :data:`BOTTLENECKS` of the largest part of the step time (first on ties).

    Works on whole output arrays or on a selection of rows of each of them.
    """
    best = np.asarray(outputs[BOTTLENECK_PARTS[0]], dtype=np.float64)
    code = np.zeros(best.shape, dtype=np.int64)
    for k, name in enumerate(BOTTLENECK_PARTS[1:], start=1):
        part = np.asarray(outputs[name], dtype=np.float64)
        larger = part > best
        code = np.where(larger, k, code)
        best = np.maximum(best, part)
    return code


def exposed_after_overlap(comm_s, window_s, efficiency):
    """Communication left exposed when it overlaps a compute window [s].

    A fraction ``efficiency`` of the shorter of the two is hidden:
    ``comm - efficiency * min(comm, window)``. When the window is long enough the
    remainder ``(1 - efficiency) * comm`` still shows (communication kernels take
    SMs and memory bandwidth from the compute they overlap); when it is too
    short, everything beyond ``efficiency * window`` shows.
    """
    comm = np.asarray(comm_s, dtype=np.float64)
    return comm - _f(efficiency) * np.minimum(comm, _f(window_s))


def evaluate_arrays(x: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate the step model on broadcasting arrays; see the module docstring.

    Returns a dict of arrays (all broadcast to the common shape of the inputs)
    whose keys are the output columns documented in :mod:`trainplan.outputs`.
    """
    g = {k: np.asarray(v) for k, v in x.items()}
    L, h, a, kv = _f(g["n_layers"]), _f(g["hidden"]), _f(g["n_heads"]), _f(g["n_kv_heads"])
    f, V, s = _f(g["ffn_hidden"]), _f(g["vocab"]), _f(g["seq_len"])
    gated, dropout = g["gated_mlp"], g["dropout"]
    rotary = g["rotary"].astype(bool)
    tp, pp, dp, cp, v = _f(g["tp"]), _f(g["pp"]), _f(g["dp"]), _f(g["cp"]), _f(g["vpp"])
    b, B = _f(g["micro_batch"]), _f(g["global_batch"])
    zero, rc, sp = g["zero_stage"], g["recompute"], g["seq_parallel"].astype(bool)
    flash, schedule = g["flash_attention"].astype(bool), g["schedule"]
    n_gpus = tp * pp * dp * cp

    m = B / (dp * b)                      # micro-batches per replica per step
    s_local = s / cp                      # sequence held by one context-parallel rank
    tokens_mb = b * s_local               # tokens of one micro-batch on one GPU
    layers_stage = L / pp
    shard_group = dp * cp                 # ZeRO / distributed-optimizer shards over dp x cp

    # ---- parameters -----------------------------------------------------------------------
    layernorm = g["layernorm"]
    p_layer = pa.layer_params(h, a, kv, f, gated, g["linear_bias"], layernorm)
    p_layer_rank = pa.layer_params_per_tp_rank(h, a, kv, f, gated, g["linear_bias"], layernorm,
                                               tp)
    p_word = pa.word_embedding_params(V, h)
    p_pos = pa.position_embedding_params(s, h, g["learned_positions"])
    p_out = pa.output_layer_params(V, h, g["tied_embeddings"])
    p_final_norm = pa.norm_params(h, layernorm)
    p_total = L * p_layer + p_word + p_pos + p_out + p_final_norm
    # first stage: its layers, word + position embeddings; last stage: its layers, the LM head
    # (its own copy of the tied embedding when pp > 1) and the final norm.
    multi = pp > 1
    head = np.where(g["tied_embeddings"], np.where(multi, p_word, 0.0), p_out) / tp
    p_first = layers_stage * p_layer_rank + p_word / tp + p_pos + np.where(
        multi, 0.0, head + p_final_norm)
    p_last = np.where(multi, layers_stage * p_layer_rank + head + p_final_norm, p_first)
    p_gpu = np.maximum(p_first, p_last)

    # ---- FLOPs ----------------------------------------------------------------------------
    tokens_step = B * s
    model_flop = fl.model_flop(tokens_step, L, s, h, a, kv, f, gated, V)
    hardware_flop = fl.hardware_flop(tokens_step, L, s, h, a, kv, f, gated, V, rc)

    # ---- memory ---------------------------------------------------------------------------
    grad_b, opt_b = _f(g["grad_bytes_per_param"]), _f(g["optimizer_bytes_per_param"])
    act_layer = me.activation_bytes_per_layer(s_local, b, h, a, kv, f, gated, dropout, tp, sp, rc,
                                              flash)
    working = me.recompute_working_bytes(s_local, b, h, a, kv, f, gated, dropout, tp, sp, rc,
                                         flash)
    infl_first = pl.inflight_microbatches_first_stage(schedule, pp, m, v)
    infl_last = pl.inflight_microbatches_last_stage(schedule, pp, m, v)
    logits_mem = me.logits_bytes(s_local, b, V, tp, g["logits_bytes_per_element"])
    largest_matrix = np.maximum(np.maximum(h * (h + 2.0 * kv * h / a),
                                           h * f * np.where(gated, 2.0, 1.0)), V * h) / tp
    zero3_buffers = me.zero3_gather_buffer_bytes(p_layer_rank, largest_matrix,
                                                 g["zero3_max_live_params"], zero, PARAM_BYTES)
    zero3_buffers = np.where(shard_group > 1, zero3_buffers, 0.0)   # nothing to gather

    def stage_memory(params, inflight, logits):
        w = me.weight_bytes(params, shard_group, zero, PARAM_BYTES)
        gr = me.gradient_bytes(params, shard_group, zero, grad_b)
        op = me.optimizer_bytes(params, shard_group, zero, opt_b)
        act = act_layer * layers_stage * inflight + working
        other = logits + zero3_buffers
        return w, gr, op, act, other

    first = stage_memory(p_first, infl_first, np.where(multi, 0.0, logits_mem))
    # GPipe runs every forward before any backward: the last stage keeps every micro-batch's
    # logits; 1F1B and interleaved free them after each backward.
    last = stage_memory(p_last, infl_last,
                        logits_mem * np.where(schedule == pl.GPIPE, np.maximum(m, 1.0), 1.0))
    total_first, total_last = sum(first), sum(last)
    last_worse = total_last > total_first
    mem_w, mem_g, mem_o, mem_a, mem_x = (np.where(last_worse, l_, f_) for f_, l_ in
                                         zip(first, last, strict=True))
    mem_total = np.maximum(total_first, total_last)
    capacity = _f(g["memory_capacity_bytes"])
    usable = capacity * (1.0 - _f(g["memory_reserve_fraction"])) - _f(g["cuda_context_bytes"])
    fits = mem_total <= usable

    # ---- compute of one layer, one micro-batch --------------------------------------------
    fp8 = g["fp8"].astype(bool)
    peak16 = _f(g["peak_16bit_flop_s"])
    peak_linear = np.where(fp8, _f(g["peak_fp8_flop_s"]), peak16)
    eff_linear = np.where(fp8, _f(g["gemm_efficiency_fp8"]), _f(g["gemm_efficiency_16bit"]))
    hbm = _f(g["hbm_byte_s"]) * _f(g["hbm_efficiency"])
    sms = _f(g["sm_count"])
    half_linear = cm.gemm_half_dim(g["gemm_half_dim_per_sm_tflop_s"], peak16, sms)
    half16 = cm.gemm_half_dim(g["gemm_half_dim_per_sm_tflop_s"], peak16, sms)
    eff16 = _f(g["gemm_efficiency_16bit"])
    linear_bytes = np.where(fp8, 1.0, 2.0)
    half_k = _f(g["gemm_half_k"])
    lin_fwd, lin_col = cm.linear_layers_forward_s(tokens_mb, h, a, kv, f, gated, tp, peak_linear,
                                                  eff_linear, half_linear, half_k, hbm,
                                                  linear_bytes)
    attn_fwd = cm.attention_core_forward_s(b, s_local, s, h, a, tp, flash, dropout, peak16,
                                           g["attention_efficiency"], eff16, half16, half_k,
                                           hbm)
    attn_bwd = attn_fwd * np.where(flash, cm.FLASH_BACKWARD_RATIO, 2.0)
    elem_fwd = cm.elementwise_forward_bytes(tokens_mb, h, a, kv, f, gated, dropout, rotary, tp,
                                            sp) / hbm
    cast = np.where(fp8, cm.fp8_cast_bytes(tokens_mb, h, a, kv, f, gated, tp) / hbm, 0.0)
    fwd = lin_fwd + attn_fwd + elem_fwd + cast / 3.0
    bwd = 2.0 * lin_fwd + attn_bwd + cm.ELEMENTWISE_BACKWARD_RATIO * elem_fwd + cast * 2.0 / 3.0
    recompute_t = np.where(rc == 2, fwd, np.where(rc == 1, attn_fwd, 0.0))
    layer_compute = fwd + bwd + recompute_t

    # ---- links ----------------------------------------------------------------------------
    domain = _f(g["scaleup_domain_gpus"])
    scaleup = _f(g["scaleup_byte_s"]) * _f(g["scaleup_efficiency"])
    peer = _f(g["scaleup_peer_byte_s"]) * _f(g["scaleup_efficiency"])
    mesh = g["scaleup_mesh"].astype(bool)
    nic = _f(g["nic_byte_s_per_gpu"]) * _f(g["scaleout_efficiency"])
    lat_in, lat_out = _f(g["scaleup_latency_s"]), _f(g["scaleout_latency_s"])
    overlap = _f(g["overlap_efficiency"])

    def group(size, stride):
        members = co.members_per_domain(size, stride, domain)
        domains = co.domains_spanned(size, stride, domain)
        intra = co.intra_domain_bandwidth(members, scaleup, peer, mesh)
        return members, domains, intra

    # ---- tensor parallelism: per layer, per micro-batch -----------------------------------
    tp_in, tp_out, tp_intra = group(tp, 1.0)
    tp_msg = tokens_mb * h * ACTIVATION_BYTES
    tp_args = (tp_msg, tp, tp_in, tp_out, tp_intra, nic, lat_in, lat_out)
    tp_ar = co.allreduce_s(g["tp_algorithm"], *tp_args)
    tp_agrs = 2.0 * co.allgather_s(g["tp_algorithm"], *tp_args)
    # one all-reduce, or an all-gather + reduce-scatter pair under sequence parallelism
    tp_pair = np.where(sp, tp_agrs, tp_ar)
    tp_fwd = 2.0 * tp_pair
    tp_bwd = 2.0 * tp_pair
    tp_rec = np.where(rc == 2, tp_fwd, 0.0)
    tp_overlap = g["tp_comm_overlap"].astype(bool)
    exposed_fwd = np.where(tp_overlap, exposed_after_overlap(tp_fwd, lin_fwd, overlap), tp_fwd)
    exposed_rec = np.where(tp_overlap, exposed_after_overlap(tp_rec, lin_fwd, overlap), tp_rec)
    bwd_hiding = np.where(tp_overlap, 2.0 * lin_fwd,
                          np.where(g["tp_async_backward"].astype(bool), lin_col, 0.0))
    exposed_bwd = exposed_after_overlap(tp_bwd, bwd_hiding, overlap)
    tp_exposed_layer = exposed_fwd + exposed_rec + exposed_bwd
    tp_collectives = 4.0 + np.where(rc == 2, 2.0, 0.0)   # all-reduce equivalents per layer
    tp_volume_layer = tp_collectives * co.allreduce_volume_bytes(tp_msg, tp)

    # ---- context parallelism: ring exchange of K and V, hidden behind attention -----------
    cp_in, cp_out, cp_intra = group(cp, tp)
    ring_link = np.where(mesh, peer, cp_intra)     # a ring sends to one neighbour at a time
    cp_bw = co.flat_bandwidth(cp_in, cp_out, ring_link, nic)
    kv_chunk = 2.0 * b * s_local * kv * (h / a) * ACTIVATION_BYTES / tp
    cp_fwd_bytes = np.where(cp > 1, (cp - 1.0) * kv_chunk, 0.0)
    cp_lat = np.where(cp_out > 1, lat_out, lat_in) * np.maximum(cp - 1.0, 0.0)
    cp_fwd = np.where(cp > 1, cp_fwd_bytes / cp_bw + cp_lat, 0.0)
    cp_total = cp_fwd * (1.0 + 2.0 + np.where(rc == 2, 1.0, 0.0))
    cp_exposed_layer = exposed_after_overlap(cp_total, attn_fwd + attn_bwd, overlap)
    cp_volume_layer = cp_fwd_bytes * (3.0 + np.where(rc == 2, 1.0, 0.0))

    # ---- stage times per micro-batch -------------------------------------------------------
    layer_total = layer_compute + tp_exposed_layer + cp_exposed_layer
    emb_t = 3.0 * tokens_mb * h * ACTIVATION_BYTES / hbm
    logits_t = 3.0 * cm.gemm_time_s(tokens_mb, V / tp, h, peak16, eff16, half16, half_k, hbm,
                                    2.0)
    loss_t = tokens_mb * V / tp * 2.0 * _f(g["logits_bytes_per_element"]) / hbm
    head_t = logits_t + loss_t
    compute_first = layers_stage * layer_compute + emb_t + np.where(multi, 0.0, head_t)
    compute_last = np.where(multi, layers_stage * layer_compute + head_t, compute_first)
    comm_layers = layers_stage * (tp_exposed_layer + cp_exposed_layer)

    # ZeRO-3: gather the stage's parameters for forward, backward (and the recompute forward),
    # reduce-scatter its gradients, every micro-batch; prefetching hides it behind compute.
    dp_in, dp_out, dp_intra = group(shard_group, tp * 1.0)
    dp_args = (shard_group, dp_in, dp_out, dp_intra, nic, lat_in, lat_out)
    param_msg = p_gpu * PARAM_BYTES
    grad_msg = p_gpu * _f(g["grad_reduce_bytes_per_param"])
    ag_param = co.allgather_s(g["dp_algorithm"], param_msg, *dp_args)
    rs_grad = co.allgather_s(g["dp_algorithm"], grad_msg, *dp_args)
    ar_grad = co.allreduce_s(g["dp_algorithm"], grad_msg, *dp_args)
    gathers = 2.0 + np.where(rc == 2, 1.0, 0.0)
    zero3_mb = np.where(zero >= 3, gathers * ag_param + rs_grad, 0.0)
    zero3_exposed_first = exposed_after_overlap(zero3_mb, compute_first, overlap)
    zero3_exposed_last = exposed_after_overlap(zero3_mb, compute_last, overlap)
    stage_first = compute_first + comm_layers + zero3_exposed_first
    stage_last = compute_last + comm_layers + zero3_exposed_last
    stage_max = np.maximum(stage_first, stage_last)
    last_slowest = stage_last >= stage_first
    stage_mid = layers_stage * layer_total + np.where(
        zero >= 3, exposed_after_overlap(zero3_mb, layers_stage * layer_compute, overlap), 0.0)
    stage_avg = np.where(multi, (stage_first + stage_last + (pp - 2.0) * stage_mid) / pp,
                         stage_max)

    # ---- pipeline --------------------------------------------------------------------------
    bubble_t = (pp - 1.0) / v * stage_avg
    pp_bytes_mb = tokens_mb * h * ACTIVATION_BYTES / tp   # scatter-gather / sequence-parallel
    pp_stride = tp * cp * dp
    pp_cross = co.domains_spanned(pp, pp_stride, domain) > 1   # the slowest hop sets the pace
    pp_bw = np.where(pp_cross, nic, np.where(mesh, peer, scaleup))
    pp_lat = np.where(pp_cross, lat_out, lat_in)
    pp_one = co.p2p_s(pp_bytes_mb, pp_bw, pp_lat)
    pp_exposed = np.where(multi, 2.0 * (v * m + pp - 1.0) * pp_one, 0.0)
    pp_volume = np.where(multi, 2.0 * v * m * pp_bytes_mb, 0.0)

    # ---- data parallelism: per step ---------------------------------------------------------
    bwd_window = layers_stage * bwd
    fwd_window = layers_stage * fwd
    grad_reduce = np.where(zero == 0, ar_grad, rs_grad)
    # DeepSpeed ZeRO-2 reduce-scatters the gradients after every micro-batch
    grad_reduce = np.where(zero == 2, m * rs_grad, grad_reduce)
    windows = np.where(zero == 2, m, 1.0) * bwd_window
    reduce_exposed = np.where(g["overlap_grad_reduce"].astype(bool),
                              exposed_after_overlap(grad_reduce, windows, overlap),
                              grad_reduce)
    gather_needed = (zero == 1) | (zero == 2)
    gather_exposed = np.where(g["overlap_param_gather"].astype(bool),
                              exposed_after_overlap(ag_param, fwd_window, overlap),
                              ag_param)
    dp_exposed = np.where(zero >= 3, 0.0, reduce_exposed + np.where(gather_needed,
                                                                     gather_exposed, 0.0))
    dp_exposed = np.where(shard_group > 1, dp_exposed, 0.0)
    zero3_exposed = m * np.where(last_slowest, zero3_exposed_last, zero3_exposed_first)
    dp_exposed_total = dp_exposed + zero3_exposed
    grad_volume = np.where(zero == 0, co.allreduce_volume_bytes(grad_msg, shard_group),
                           co.allgather_volume_bytes(grad_msg, shard_group) * np.where(
                               zero == 2, m, 1.0))
    param_volume = np.where(gather_needed, co.allgather_volume_bytes(param_msg, shard_group), 0.0)
    zero3_volume = m * (gathers * co.allgather_volume_bytes(param_msg, shard_group)
                        + co.allgather_volume_bytes(grad_msg, shard_group))
    dp_volume = np.where(zero >= 3, zero3_volume, grad_volume + param_volume)
    dp_volume = np.where(shard_group > 1, dp_volume, 0.0)

    # ---- optimizer and totals ----------------------------------------------------------------
    opt_params = p_gpu / np.where(zero >= 1, shard_group, 1.0)
    optimizer_t = opt_params * _f(g["adam_step_bytes_per_param"]) / hbm
    overhead = _f(g["step_overhead_s"])
    compute_total = m * np.where(last_slowest, compute_last, compute_first)
    tp_exposed = m * layers_stage * tp_exposed_layer
    cp_exposed = m * layers_stage * cp_exposed_layer
    step = m * stage_max + bubble_t + pp_exposed + dp_exposed + optimizer_t + overhead

    tokens_per_s = tokens_step / step
    peak_used = np.where(fp8, _f(g["peak_fp8_flop_s"]), peak16)
    achieved = model_flop / (step * n_gpus)
    mfu = achieved / peak_used
    hfu = hardware_flop / (step * n_gpus) / peak_used

    train_s = _f(g["tokens_budget"]) / tokens_per_s
    gpu_hours = n_gpus * train_s / 3600.0
    flags = fe.structural_flags(g["n_gpus"], tp, pp, dp, cp, v, b, B, L, a, kv, f, s, zero,
                                schedule)
    flags = flags | np.where(fits, 0, fe.MEMORY)
    unsupported = np.isnan(peak16) | (fp8 & np.isnan(_f(g["peak_fp8_flop_s"])))
    flags = flags | np.where(unsupported, fe.PRECISION, 0)
    flags = flags | np.where(~unsupported & ~np.isfinite(step), fe.NO_TIME, 0)

    out = {
        "params_total": p_total,
        "params_per_gpu": p_gpu,
        "n_microbatches": m,
        "model_flop_per_step": model_flop,
        "hardware_flop_per_step": hardware_flop,
        "memory_weights_bytes": mem_w,
        "memory_gradients_bytes": mem_g,
        "memory_optimizer_bytes": mem_o,
        "memory_activations_bytes": mem_a,
        "memory_other_bytes": mem_x,
        "memory_total_bytes": mem_total,
        "memory_usable_bytes": usable,
        "memory_headroom_bytes": usable - mem_total,
        "fits_memory": fits,
        "comm_tp_bytes_per_step": m * layers_stage * tp_volume_layer,
        "comm_cp_bytes_per_step": m * layers_stage * cp_volume_layer,
        "comm_dp_bytes_per_step": dp_volume,
        "comm_pp_bytes_per_step": pp_volume,
        "comm_tp_time_s": m * layers_stage * (tp_fwd + tp_bwd + tp_rec),
        "comm_cp_time_s": m * layers_stage * cp_total,
        "comm_pp_time_s": np.where(multi, 2.0 * v * m * pp_one, 0.0),
        "comm_dp_time_s": np.where(zero >= 3, m * zero3_mb,
                                   np.where(shard_group > 1, grad_reduce + np.where(
                                       gather_needed, ag_param, 0.0), 0.0)),
        "compute_time_s": compute_total,
        "tp_exposed_s": tp_exposed,
        "cp_exposed_s": cp_exposed,
        "dp_exposed_s": dp_exposed_total,
        "pp_exposed_s": pp_exposed,
        "bubble_time_s": bubble_t,
        "bubble_fraction": pl.bubble_fraction(pp, m, v),
        "optimizer_time_s": optimizer_t,
        "step_time_s": step,
        "tokens_per_s": tokens_per_s,
        "achieved_tflop_s_per_gpu": achieved / 1e12,
        "mfu": mfu,
        "hfu": hfu,
        "time_to_train_days": train_s / 86400.0,
        "gpu_hours": gpu_hours,
        "cost_usd": gpu_hours * _f(g["price_per_gpu_hour_usd"]),
        "energy_mwh": n_gpus * _f(g["tdp_w"]) * train_s / 3.6e9,
        "infeasible_flags": flags,
    }
    shape = np.broadcast_shapes(*(np.shape(v_) for v_ in out.values()))
    return {k: np.broadcast_to(v_, shape) for k, v_ in out.items()}
