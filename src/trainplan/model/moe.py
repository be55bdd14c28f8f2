r"""Mixture-of-experts layers and attention variants in the step model.

The dense step model counts a layer as attention with :math:`h/a`-wide heads and an MLP of
width :math:`f`. This module gives what changes when a model has experts, wider heads or
multi-head latent attention (MLA), as broadcasting functions: every one returns the dense
value (or zero extra) for a dense model, so dense results do not move.

An MoE layer replaces the MLP by a router, :math:`E` routed experts of width :math:`f_e`
of which each token uses :math:`k`, and shared experts of total width :math:`f_s` that
every token uses [1]_. Per token its FLOPs are those of a dense MLP of width
:math:`k f_e + f_s`; what differs is where the weights live (split over the
expert-parallel group, :math:`ep` GPUs), the shapes of the expert GEMMs (one grouped GEMM
over the :math:`E/ep` local experts), the token dispatch and combine (all-to-all over the
expert-parallel group) and the routed copies of the activations.

Layers with and without experts are averaged over the model: a stage of :math:`L_s` layers
holds :math:`\phi L_s` MoE layers, :math:`\phi = L_m / L` (:func:`moe_layer_share`). The
first stage of DeepSeek-V3, which holds the three dense layers, is priced as an average
stage (an upper bound on its expert memory).

References
----------
.. [1] D. Dai et al., "DeepSeekMoE", arXiv:2401.06066; DeepSeek-AI, "DeepSeek-V3 Technical
   Report", arXiv:2412.19437, Sec. 2 and 3.
.. [2] NVIDIA Megatron-Core, "Mixture of Experts package" (``megatron/core/transformer/moe``
   README): expert parallelism, expert tensor parallelism, grouped GEMM, token dispatchers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.constants import BYTES_16BIT
from trainplan.model.gemm import gemm_time_of
from trainplan.model.moe_params import moe_layer_count

GROUPED_GEMM_TILE_ROWS = 128.0
"""Rows of one grouped-GEMM tile: each expert's token rows are padded up to a multiple of it
[rows]. Source: CUTLASS grouped GEMM and Transformer Engine's ``GroupedLinear`` tile with
128 rows on Hopper and Blackwell; Megatron-Core pads each expert's tokens for FP8
(``--moe-router-padding-for-fp8``: to 16) and the kernels run whole tiles."""


DISPATCH_BYTES_PER_ELEMENT = 2.0
"""Bytes of one element of a dispatched or combined token (16-bit) [bytes]."""


PERMUTE_PASSES = 4.0
"""HBM passes of a token copy through the permutation in one forward: the dispatch
permutation reads and writes it, the combine un-permutation reads and writes it [-]."""


def moe_layer_share(n_layers: ArrayLike, n_experts: ArrayLike, first_dense_layers: ArrayLike,
                    moe_layer_step: ArrayLike) -> NDArrayFloat:
    r"""
    Share of the layers that have experts.

    Parameters
    ----------
    n_layers, n_experts, first_dense_layers, moe_layer_step : array_like
        :math:`L`, :math:`E` (0: dense), :math:`L_d`, :math:`m` [-].

    Returns
    -------
    numpy.ndarray
        :math:`\phi = L_m / L` (:func:`~trainplan.model.moe_params.moe_layer_count`), 0 for a
        dense model [-].

    References
    ----------
    .. [1] DeepSeek-AI, arXiv:2412.19437, Sec. 4.2 (the first three of 61 layers dense).
    """
    count = np.maximum(moe_layer_count(n_layers, first_dense_layers, moe_layer_step), 0.0)
    return np.where(as_float(n_experts) > 0, count / as_float(n_layers), 0.0)


def active_ffn_width(ffn_hidden: ArrayLike, moe_ffn_hidden: ArrayLike,
                     shared_ffn_width: ArrayLike, top_k: ArrayLike,
                     moe_share: ArrayLike) -> NDArrayFloat:
    r"""
    Width of the dense MLP with the FLOPs of one token's MLP work, averaged over the layers.

    Parameters
    ----------
    ffn_hidden : array_like
        Dense layers' MLP width :math:`f` [-].
    moe_ffn_hidden : array_like
        One routed expert's width :math:`f_e` [-].
    shared_ffn_width : array_like
        All shared experts' width :math:`f_s` [-].
    top_k : array_like
        Routed experts per token :math:`k` [-].
    moe_share : array_like
        :math:`\phi` (:func:`moe_layer_share`) [-].

    Returns
    -------
    numpy.ndarray
        :math:`f_{act} = (1 - \phi) f + \phi (k f_e + f_s)` [-]; :math:`f` for a dense model.

    References
    ----------
    .. [1] D. Dai et al., "DeepSeekMoE", arXiv:2401.06066, Sec. 3 (a token's expert
       computation equals that of :math:`k` fine-grained experts plus the shared ones).
    """
    phi = as_float(moe_share)
    moe = as_float(top_k) * as_float(moe_ffn_hidden) + as_float(shared_ffn_width)
    return np.where(phi > 0, (1.0 - phi) * as_float(ffn_hidden) + phi * moe,
                    as_float(ffn_hidden))


def routed_rows_per_gpu(tokens: ArrayLike, tp: ArrayLike, etp: ArrayLike,
                        top_k: ArrayLike) -> NDArrayFloat:
    r"""
    Token copies one GPU's experts process per micro-batch, on average over the EP group.

    Parameters
    ----------
    tokens : array_like
        Tokens of one micro-batch on one GPU, :math:`T = b s / cp` [tokens].
    tp, etp : array_like
        Tensor- and expert-tensor-parallel degrees [-].
    top_k : array_like
        :math:`k` [-].

    Returns
    -------
    numpy.ndarray
        :math:`R = T k\, e_t / t` [rows].

    Notes
    -----
    With sequence parallelism a tensor-parallel rank routes :math:`T/t` tokens; the
    :math:`e_t` ranks of an expert-tensor-parallel group gather theirs, and the all-to-all
    over :math:`ep` ranks hands each GPU, on average, as many copies as it sent.

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README, "MoE parallel folding" (expert tensor
       parallelism decoupled from attention tensor parallelism).
    """
    return as_float(tokens) * as_float(top_k) * as_float(etp) / as_float(tp)


def grouped_gemm_rows(routed_rows: ArrayLike, n_experts: ArrayLike, ep: ArrayLike,
                      tile_rows: ArrayLike = GROUPED_GEMM_TILE_ROWS) -> NDArrayFloat:
    r"""
    Rows the grouped GEMM of a GPU's local experts computes, each expert padded to whole tiles.

    Parameters
    ----------
    routed_rows : array_like
        Token copies the GPU processes, :math:`R` [rows].
    n_experts, ep : array_like
        :math:`E` and the expert-parallel degree [-].
    tile_rows : array_like, optional
        :data:`GROUPED_GEMM_TILE_ROWS` [rows].

    Returns
    -------
    numpy.ndarray
        :math:`\frac{E}{ep} \lceil R\,ep / (E\, t_r) \rceil t_r` [rows].

    References
    ----------
    .. [1] NVIDIA CUTLASS grouped GEMM and Transformer Engine ``GroupedLinear`` (one kernel
       over the experts, each problem tiled separately).
    """
    local = as_float(n_experts) / as_float(ep)
    per_expert = as_float(routed_rows) / np.maximum(local, 1.0)
    tile = as_float(tile_rows)
    return np.maximum(local, 1.0) * np.ceil(per_expert / tile) * tile


def grouped_gemm_time_of(n_experts: ArrayLike, ep: ArrayLike, grouped_efficiency: ArrayLike,
                         peak_flop_s: ArrayLike, efficiency_max: ArrayLike,
                         wave_elements: ArrayLike, half_k: ArrayLike, hbm_byte_s: ArrayLike,
                         bytes_per_element: ArrayLike
                         ) -> Callable[[ArrayLike, ArrayLike, ArrayLike], NDArrayFloat]:
    r"""
    Time of the grouped GEMM of a GPU's local experts, as one GEMM of all their rows.

    Parameters
    ----------
    n_experts, ep : array_like
        :math:`E` and the expert-parallel degree [-].
    grouped_efficiency : array_like
        Throughput of a grouped GEMM over a dense GEMM of the same total shape,
        :math:`\eta_g` [-].
    peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s, bytes_per_element
        As :func:`~trainplan.model.gemm.gemm_time_s`.

    Returns
    -------
    callable
        ``gemm(m, n, k)`` [s] with the efficiency :math:`\eta_{max}\eta_g`, or
        :math:`\eta_{max}` when a GPU holds one expert (a plain GEMM).

    Notes
    -----
    Transformer Engine's grouped GEMM (``GroupedLinear``; Megatron-Core
    ``--moe-grouped-gemm``) runs one cuBLAS GEMM per expert over several streams by
    default; on H100 (16-bit) 8 and 16 experts of (4096 or 2048, 768, 2048) reach 0.84 and
    0.74 of what trainplan's dense GEMM model (:func:`~trainplan.model.gemm.gemm_time_s`)
    gives their total shape, the opt-in CUTLASS kernel 0.87 and 0.85 [1]_. Those are
    fine-grained experts (2,048-4,096 rows each); :math:`\eta_g` is applied to every grouped
    GEMM, FP8 and wide experts (Mixtral) included, an extrapolation no published grouped-GEMM
    sweep yet checks. It scales the compute term only; the HBM term is that of the one GEMM.

    References
    ----------
    .. [1] NVIDIA/TransformerEngine pull request #2045 (``general_grouped_gemm``, TE 2.7,
       CUDA 12.9), ``tests/data/grouped_gemm_benchmarks.csv``.
    """
    grouped = np.where(as_float(n_experts) / as_float(ep) > 1.0, as_float(grouped_efficiency),
                       1.0)
    return gemm_time_of(peak_flop_s, as_float(efficiency_max) * grouped, wave_elements,
                        half_k, hbm_byte_s, bytes_per_element)


def router_forward_s(tokens: ArrayLike, hidden: ArrayLike, n_experts: ArrayLike,
                     peak_flop_s: ArrayLike, efficiency_max: ArrayLike,
                     hbm_byte_s: ArrayLike) -> NDArrayFloat:
    r"""
    Forward time of the router: the token-by-expert scores, then top-k.

    Parameters
    ----------
    tokens : array_like
        Tokens the rank routes, :math:`T` [tokens].
    hidden, n_experts : array_like
        :math:`h` and :math:`E` [-].
    peak_flop_s, efficiency_max : array_like
        Peak and largest achievable GEMM fraction [FLOP/s], [-].
    hbm_byte_s : array_like
        Achievable HBM bandwidth [byte/s].

    Returns
    -------
    numpy.ndarray
        :math:`\max(2 T h E / (\eta P),\ 2 (T h + h E + T E) / B_{HBM})` [s].

    Notes
    -----
    The score GEMM has only :math:`E` (8-384) columns: libraries run it with narrow tiles
    or as a matrix-vector product, bounded by reading the tokens, not by a wave of full
    tiles (:func:`~trainplan.model.gemm.gemm_efficiency` would charge a whole wave).

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README (router: linear layer, softmax or sigmoid, top-k).
    """
    t, h, e = as_float(tokens), as_float(hidden), np.maximum(as_float(n_experts), 1.0)
    compute = 2.0 * t * h * e / (as_float(peak_flop_s) * as_float(efficiency_max))
    traffic = BYTES_16BIT * (t * h + h * e + t * e) / as_float(hbm_byte_s)
    return np.maximum(compute, traffic)
