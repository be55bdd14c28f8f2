"""The result of one evaluation of the step model: one documented array per output.

:class:`StepResult` is what :func:`~trainplan.model.step.evaluate_arrays`
returns. Its fields are the numeric output columns, in the order of the output
table, each with its unit and meaning in ``field(metadata=...)`` (the source
the output table of :mod:`trainplan.schema.outputs` can be generated from).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from trainplan.model._array import NDArrayBool, NDArrayFloat, NDArrayInt


@dataclass(frozen=True)
class StepResult:
    """Outputs of the step model, every field an array broadcasting with the inputs."""

    params_total: NDArrayFloat = field(metadata={
        "unit": "parameters", "description": "all parameters of the model"})
    params_active: NDArrayFloat = field(metadata={
        "unit": "parameters",
        "description": ("parameters one token's forward multiplies with: all but the routed "
                        "experts it does not use and the input embedding lookup")})
    params_per_gpu: NDArrayFloat = field(metadata={
        "unit": "parameters",
        "description": (
            "parameters held by the busiest GPU before ZeRO sharding")})
    n_microbatches: NDArrayFloat = field(metadata={
        "unit": "-", "description": "micro-batches per data-parallel replica per step"})
    pp_layers_first: NDArrayInt = field(metadata={
        "unit": "layers", "description": ("transformer layers of the first pipeline stage (the "
                                          "others but the last hold ceil(n_layers / pp) or one "
                                          "fewer)")})
    pp_layers_last: NDArrayInt = field(metadata={
        "unit": "layers", "description": ("transformer layers of the last pipeline stage, "
                                          "beside the output layer, the loss and any MTP "
                                          "modules")})
    model_flop_per_step: NDArrayFloat = field(metadata={
        "unit": "FLOP", "description": "model FLOPs of one step (forward + backward)"})
    hardware_flop_per_step: NDArrayFloat = field(metadata={
        "unit": "FLOP", "description": "model FLOPs plus recomputation"})
    memory_weights_bytes: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "16-bit weights on the busiest GPU"})
    memory_gradients_bytes: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "gradients on the busiest GPU"})
    memory_optimizer_bytes: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "optimizer states on the busiest GPU"})
    memory_activations_bytes: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "stored activations (all in-flight micro-batches)"})
    memory_other_bytes: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "logits and ZeRO-3 gather buffers"})
    memory_total_bytes: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "sum of the above on the busiest pipeline stage"})
    memory_usable_bytes: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "GPU capacity minus CUDA context and the reserve"})
    memory_headroom_bytes: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "usable minus total (negative: does not fit)"})
    fits_memory: NDArrayBool = field(metadata={
        "unit": "-", "description": "total <= usable"})
    comm_tp_bytes_per_step: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "tensor-parallel bytes sent per GPU per step"})
    comm_cp_bytes_per_step: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "context-parallel bytes sent per GPU per step"})
    comm_dp_bytes_per_step: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "data-parallel / ZeRO bytes sent per GPU per step"})
    comm_pp_bytes_per_step: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "pipeline point-to-point bytes sent per GPU per step"})
    comm_ep_bytes_per_step: NDArrayFloat = field(metadata={
        "unit": "bytes", "description": "expert-parallel (all-to-all) bytes sent per GPU per "
                                        "step"})
    comm_tp_time_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "tensor-parallel communication time per step before overlap"})
    comm_cp_time_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "context-parallel communication time per step before overlap"})
    comm_ep_time_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "expert-parallel all-to-all time per step before overlap"})
    comm_pp_time_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "pipeline point-to-point time per step (all transfers)"})
    comm_dp_time_s: NDArrayFloat = field(metadata={
        "unit": "s",
        "description": (
            "data-parallel / ZeRO communication time per step before overlap")})
    compute_time_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "computation of all micro-batches on the slowest stage"})
    offload_exposed_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": (
            "activation-offload copies to and from host memory not hidden by compute, on the "
            "slowest stage (part of compute_time_s)")})
    tp_exposed_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "tensor-parallel communication not hidden by compute"})
    cp_exposed_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "context-parallel communication not hidden by compute"})
    ep_exposed_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "expert-parallel all-to-all not hidden by compute"})
    dp_exposed_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "data-parallel / ZeRO communication not hidden by compute"})
    pp_exposed_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "pipeline point-to-point time on the critical path"})
    bubble_time_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "pipeline fill and drain"})
    bubble_fraction: NDArrayFloat = field(metadata={
        "unit": "-", "description": "(p-1)/(v m + p - 1)"})
    optimizer_time_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "optimizer (Adam) update"})
    step_time_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "one training step (iteration)"})
    tokens_per_s: NDArrayFloat = field(metadata={
        "unit": "tokens/s", "description": "training throughput of the whole job"})
    achieved_tflop_s_per_gpu: NDArrayFloat = field(metadata={
        "unit": "TFLOP/s", "description": "model FLOPs per second per GPU"})
    mfu: NDArrayFloat = field(metadata={
        "unit": "-",
        "description": (
            "model FLOPs utilisation against the dense peak of the training precision")})
    hfu: NDArrayFloat = field(metadata={
        "unit": "-", "description": "hardware FLOPs utilisation (recomputation counted)"})
    time_to_train_days: NDArrayFloat = field(metadata={
        "unit": "days", "description": "wall-clock time for tokens_budget"})
    gpu_hours: NDArrayFloat = field(metadata={
        "unit": "GPU-hours", "description": "n_gpus x time to train"})
    cost_usd: NDArrayFloat = field(metadata={
        "unit": "USD", "description": "gpu_hours x price_per_gpu_hour_usd"})
    energy_mwh: NDArrayFloat = field(metadata={
        "unit": "MWh", "description": "n_gpus x TDP x time to train (GPU board power only)"})
    job_mtbf_h: NDArrayFloat = field(metadata={
        "unit": "h", "description": "mean time between failures of the job "
                                    "(1 / (n_gpus x failures_per_gpu_hour))"})
    checkpoint_write_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "one checkpoint: weights and optimizer states of the busiest "
                                    "GPU / checkpoint write bandwidth per GPU"})
    checkpoint_interval_s: NDArrayFloat = field(metadata={
        "unit": "s", "description": "optimal compute time between checkpoints (Young 1974, "
                                    "Daly 2006: sqrt(2 x write x MTBF) - write)"})
    goodput: NDArrayFloat = field(metadata={
        "unit": "-", "description": "share of the wall time that trains, with checkpoints, "
                                    "failures and restarts (Daly 2006)"})
    expected_time_to_train_days: NDArrayFloat = field(metadata={
        "unit": "days", "description": "expected wall-clock time: time_to_train_days / goodput"})
    expected_gpu_hours: NDArrayFloat = field(metadata={
        "unit": "GPU-hours", "description": "n_gpus x expected time to train"})
    expected_cost_usd: NDArrayFloat = field(metadata={
        "unit": "USD", "description": "expected_gpu_hours x price_per_gpu_hour_usd (rented)"})
    facility_energy_mwh: NDArrayFloat = field(metadata={
        "unit": "MWh", "description": "expected energy from the grid: GPU board power plus the "
                                      "host's share, times PUE, over the expected time"})
    power_usd_per_gpu_hour: NDArrayFloat = field(metadata={
        "unit": "USD/GPU-hour", "description": "electricity of one GPU-hour at the facility"})
    owned_usd_per_gpu_hour: NDArrayFloat = field(metadata={
        "unit": "USD/GPU-hour", "description": "owned cluster: capex_usd_per_gpu and the "
                                               "network's share amortised over its life plus "
                                               "electricity (NaN when no capex is given)"})
    expected_owned_cost_usd: NDArrayFloat = field(metadata={
        "unit": "USD", "description": "expected_gpu_hours x owned_usd_per_gpu_hour"})
    network_capex_usd_per_gpu: NDArrayFloat = field(metadata={
        "unit": "USD", "description": "purchase price of one GPU's share of the scale-out "
                                      "network: scaleout_gbit_s_per_node x "
                                      "network_usd_per_gbit_s / gpus_per_node"})
    breakeven_capex_usd_per_gpu: NDArrayFloat = field(metadata={
        "unit": "USD", "description": "purchase price per GPU of everything but the scale-out "
                                      "network (servers, storage) below which owning is "
                                      "cheaper than renting (in use every hour of its life)"})
    infeasible_flags: NDArrayInt = field(metadata={
        "unit": "-",
        "description": (
            "the reasons as a bit mask (trainplan.model.feasibility.REASONS); 0 when "
            "feasible")})

    def as_dict(self) -> dict[str, np.ndarray]:
        """The outputs as ``{name: array}`` in field order, every array broadcast (as a view)
        to their common shape."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        shape = np.broadcast_shapes(*(np.shape(v) for v in values.values()))
        return {k: np.broadcast_to(v, shape) for k, v in values.items()}
