"""Output columns of an evaluation: name, unit, meaning and type (stable; generated into
docs/outputs.md)."""

from __future__ import annotations

OUTPUTS: dict[str, tuple[str, str]] = {
    "strategy": ("-", "DP, TP, PP, 2D or 3D, derived from the parallel degrees"),
    "feasible": ("-", "true when the configuration divides evenly and fits in memory"),
    "reason": ("-", "why an infeasible configuration cannot run ('' when feasible)"),
    "infeasible_flags": ("-", "the reasons as a bit mask (trainplan.model.feasibility.REASONS); "
                              "0 when feasible"),
    "params_total": ("parameters", "all parameters of the model"),
    "params_per_gpu": ("parameters", "parameters held by the busiest GPU before ZeRO sharding"),
    "n_microbatches": ("-", "micro-batches per data-parallel replica per step"),
    "model_flop_per_step": ("FLOP", "model FLOPs of one step (forward + backward)"),
    "hardware_flop_per_step": ("FLOP", "model FLOPs plus recomputation"),
    "memory_weights_bytes": ("bytes", "16-bit weights on the busiest GPU"),
    "memory_gradients_bytes": ("bytes", "gradients on the busiest GPU"),
    "memory_optimizer_bytes": ("bytes", "optimizer states on the busiest GPU"),
    "memory_activations_bytes": ("bytes", "stored activations (all in-flight micro-batches)"),
    "memory_other_bytes": ("bytes", "logits and ZeRO-3 gather buffers"),
    "memory_total_bytes": ("bytes", "sum of the above on the busiest pipeline stage"),
    "memory_usable_bytes": ("bytes", "GPU capacity minus CUDA context and the reserve"),
    "memory_headroom_bytes": ("bytes", "usable minus total (negative: does not fit)"),
    "fits_memory": ("-", "total <= usable"),
    "comm_tp_bytes_per_step": ("bytes", "tensor-parallel bytes sent per GPU per step"),
    "comm_cp_bytes_per_step": ("bytes", "context-parallel bytes sent per GPU per step"),
    "comm_dp_bytes_per_step": ("bytes", "data-parallel / ZeRO bytes sent per GPU per step"),
    "comm_pp_bytes_per_step": ("bytes", "pipeline point-to-point bytes sent per GPU per step"),
    "comm_tp_time_s": ("s", "tensor-parallel communication time per step before overlap"),
    "comm_cp_time_s": ("s", "context-parallel communication time per step before overlap"),
    "comm_pp_time_s": ("s", "pipeline point-to-point time per step (all transfers)"),
    "comm_dp_time_s": ("s", "data-parallel / ZeRO communication time per step before overlap"),
    "compute_time_s": ("s", "computation of all micro-batches on the slowest stage"),
    "tp_exposed_s": ("s", "tensor-parallel communication not hidden by compute"),
    "cp_exposed_s": ("s", "context-parallel communication not hidden by compute"),
    "dp_exposed_s": ("s", "data-parallel / ZeRO communication not hidden by compute"),
    "pp_exposed_s": ("s", "pipeline point-to-point time on the critical path"),
    "bubble_time_s": ("s", "pipeline fill and drain"),
    "bubble_fraction": ("-", "(p-1)/(v m + p - 1)"),
    "optimizer_time_s": ("s", "optimizer (Adam) update"),
    "step_time_s": ("s", "one training step (iteration)"),
    "tokens_per_s": ("tokens/s", "training throughput of the whole job"),
    "achieved_tflop_s_per_gpu": ("TFLOP/s", "model FLOPs per second per GPU"),
    "mfu": ("-", "model FLOPs utilisation against the dense peak of the training precision"),
    "hfu": ("-", "hardware FLOPs utilisation (recomputation counted)"),
    "bottleneck": ("-", "the largest part of the step time"),
    "time_to_train_days": ("days", "wall-clock time for tokens_budget"),
    "gpu_hours": ("GPU-hours", "n_gpus x time to train"),
    "cost_usd": ("USD", "gpu_hours x price_per_gpu_hour_usd"),
    "energy_mwh": ("MWh", "n_gpus x TDP x time to train (GPU board power only)"),
}

OUTPUT_COLUMNS = tuple(OUTPUTS)

STRING_OUTPUTS = ("strategy", "reason", "bottleneck")
"""Text labels derived from the numbers (the rest are numeric or boolean)."""

OUTPUT_DTYPES: dict[str, str] = {
    name: ("String" if name in STRING_OUTPUTS else "Boolean" if name in ("feasible",
           "fits_memory") else "Int64" if name == "infeasible_flags" else "Float64")
    for name in OUTPUTS}
"""Column type of every output in the tables."""

KEY_COLUMNS: dict[str, tuple[str, str]] = {
    "config_id": ("Int64", "the configuration's C-order index in its sweep's grid (stable "
                           "whatever the sharding)"),
    "scenario_id": ("Int64", "the scenario's index: mixed-radix over the sweep's scenario "
                             "axes; every table carries it"),
}
"""Key columns that lead every table a sweep writes."""
