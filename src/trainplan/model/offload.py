r"""Activations offloaded to host memory between a layer's forward and its backward.

Megatron-Core's CPU offloading (``--cpu-offloading --cpu-offloading-num-layers N``) copies
the activations of ``N`` layers to host memory on a side stream once their forward is done
and copies them back ahead of their backward, so a GPU keeps the activations of the other
layers and of the one layer in transit. The copies cross the GPU's host link: PCIe on
x86 nodes, NVLink-C2C to the Grace CPU on GB200 / GB300, which is why NVIDIA's GB200
recipes offload where recomputation would cost more.

References
----------
.. [1] NVIDIA Megatron-Core ``TransformerConfig.cpu_offloading``,
   ``cpu_offloading_num_layers`` (fewer than the layers; no pipeline parallelism, no
   activation recomputation), through Transformer Engine's ``cpu_offload``.
.. [2] NVIDIA-NeMo/Megatron-Bridge ``scripts/performance/configs/llama``: Llama 3 70B on
   64 GB200 in FP8 offloads 40 of its 80 layers (``cpu_offloading_num_layers=40``).
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float

__all__ = ["offload_exposed_layer_s", "offloaded_layers", "resident_activation_layers"]


def offloaded_layers(fraction: ArrayLike, layers_per_stage: ArrayLike) -> NDArrayFloat:
    r"""
    Layers of a stage whose activations go to host memory, in whole layers.

    Parameters
    ----------
    fraction : array_like
        ``activation_offload_fraction``, :math:`\omega` [-].
    layers_per_stage : array_like
        Layers of the stage, :math:`L_s` [-].

    Returns
    -------
    numpy.ndarray
        :math:`o = \lfloor \omega L_s \rfloor` [-] (Megatron-Core offloads whole layers).

    References
    ----------
    .. [1] NVIDIA Megatron-Core ``cpu_offloading_num_layers``.
    """
    layers = as_float(layers_per_stage)
    return np.clip(np.floor(as_float(fraction) * layers + 1e-9), 0.0, layers)


def resident_activation_layers(layers: ArrayLike, offloaded: ArrayLike,
                               inflight: ArrayLike) -> NDArrayFloat:
    r"""
    Layer-micro-batches of activations a stage holds on the GPU at its peak.

    Parameters
    ----------
    layers : array_like
        Layers of the stage, :math:`L_s` [-].
    offloaded : array_like
        Of them offloaded, :math:`o` (:func:`offloaded_layers`) [-].
    inflight : array_like
        Micro-batches whose activations the schedule keeps, :math:`n` [-].

    Returns
    -------
    numpy.ndarray
        :math:`(L_s - o)\, n + \min(o, 1)` [-]: the kept layers of every micro-batch in
        flight, and the one offloaded layer whose copy is under way.

    References
    ----------
    .. [1] NVIDIA Transformer Engine ``cpu_offload`` (double-buffered: one layer's
       activations in transit on the offload stream).
    """
    o = as_float(offloaded)
    return (as_float(layers) - o) * as_float(inflight) + np.minimum(o, 1.0)


def offload_exposed_layer_s(activation_bytes: ArrayLike, host_byte_s: ArrayLike,
                            forward_s: ArrayLike, backward_s: ArrayLike, offloaded: ArrayLike,
                            layers: ArrayLike) -> NDArrayFloat:
    r"""
    Offload copies left exposed, averaged over a stage's layers, per micro-batch.

    Parameters
    ----------
    activation_bytes : array_like
        One layer's activations for one micro-batch, :math:`A_l` [bytes].
    host_byte_s : array_like
        Achievable GPU-host bandwidth per direction, :math:`B_h` [byte/s].
    forward_s, backward_s : array_like
        A layer's forward and backward time, :math:`t_f`, :math:`t_b` [s].
    offloaded, layers : array_like
        Offloaded layers :math:`o` of the stage's :math:`L_s` [-].

    Returns
    -------
    numpy.ndarray
        :math:`\frac{o}{L_s}\left(\max(0, A_l/B_h - w\,t_f)
        + \max(0, A_l/B_h - w\,t_b)\right)`, :math:`w = L_s / o` [s]: the offload handler
        spaces the :math:`o` copies evenly over the stage, so each copy out runs under the
        :math:`w` layers' forwards that follow it and each copy back under as many
        backwards; what the computation does not cover stalls it.

    References
    ----------
    .. [1] NVIDIA Transformer Engine ``cpu_offload`` (``AsyncDoubleBufferGroupOffloadHandler``:
       offload and reload on a side stream, one group of layers per window of
       :math:`L_s / o` layers), which Megatron-Core's ``--cpu-offloading`` uses.
    """
    o = as_float(offloaded)
    window = as_float(layers) / np.maximum(o, 1.0)
    copy = as_float(activation_bytes) / as_float(host_byte_s)
    stall = (np.maximum(copy - window * as_float(forward_s), 0.0)
             + np.maximum(copy - window * as_float(backward_s), 0.0))
    return np.where(o > 0, o / np.maximum(as_float(layers), 1.0) * stall, 0.0)
