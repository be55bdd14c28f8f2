r"""How the layers of a model are split over its pipeline stages.

The split is what the launch material writes (Megatron's first/last-stage layer counts or
``--pipeline-model-parallel-layout``, TorchTitan's stage modules) and what the memory and
time of each stage are priced on.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float

__all__ = ["last_stage_layer_credit", "stage_layers"]


def stage_layers(n_layers: NDArrayFloat, pp: NDArrayFloat, last_credit: NDArrayFloat = 0.0
                 ) -> tuple[NDArrayFloat, NDArrayFloat, NDArrayFloat]:
    r"""
    Transformer layers of the first, the busiest and the last pipeline stage.

    When :math:`p` does not divide :math:`L`, the stages hold :math:`q = \lceil L/p \rceil`
    layers, and the :math:`r = p q - L` layers short are taken first from the last stage (it
    also computes the output layer, the loss and any multi-token-prediction modules): as
    many as those are worth in layers, :math:`k = \min(r, \max(1, c))`, then one from the
    first (it also holds the embedding), then from middle stages. This is how Meta split
    Llama 3 405B (126 layers on 16 stages: "we reduce one Transformer layer each from the
    first and the last stages" [1]_), what Megatron-LM's
    ``--decoder-first/last-pipeline-num-layers`` express, BLOOM's 70 layers on 12 stages
    with the embeddings counted in the split (5, 6, 5) [2]_, and Megatron-Bridge's
    DeepSeek-V3 layouts (61 layers on 16 stages: 4, 4, ..., 1 with MTP and loss) [3]_.

    Parameters
    ----------
    n_layers : array_like
        Transformer layers, :math:`L` [-].
    pp : array_like
        Pipeline stages, :math:`p` [-].
    last_credit : array_like, optional
        The last stage's output layers and MTP modules in layers, :math:`c`
        (:func:`~trainplan.model.pipeline.last_stage_layer_credit`) [-].

    Returns
    -------
    tuple of numpy.ndarray
        Layers of the first stage, of the busiest stage (:math:`q`) and of the last stage
        [-]; with one stage all three are :math:`L`.

    Notes
    -----
    .. math::

       L_{last} = q - k, \quad L_{first} = q - [r - k \geq 1] \quad (p > 1,\ k \leq q - 1)

    References
    ----------
    .. [1] A. Grattafiori et al., "The Llama 3 Herd of Models", arXiv:2407.21783,
       Sec. 3.3.2 (pipeline parallelism improvements).
    .. [2] BigScience, Megatron-DeepSpeed ``--pp-partition-method
       'type:transformer|embedding'`` (BLOOM-176B training, 2022).
    .. [3] NVIDIA-NeMo/Megatron-Bridge, ``recipes/deepseek/deepseek_v3.py``
       ``set_deepseek_v3_pipeline_model_parallel_layout`` (pp 4, 8, 16: 13, 5 and 1
       layers with MTP and loss on the last stage).
    """
    n_layers, pp = as_float(n_layers), as_float(pp)
    q = np.ceil(n_layers / pp)
    r = pp * q - n_layers
    multi = pp > 1
    k = np.where(multi & (r >= 1),
                 np.maximum(np.minimum(np.minimum(r, np.maximum(1.0, as_float(last_credit))),
                                       q - 1.0), 0.0), 0.0)
    last = q - k
    first = np.where(multi & (r - k >= 1), q - 1.0, q)
    return first, q, last


def last_stage_layer_credit(layer_forward_flop: ArrayLike, head_forward_flop: ArrayLike,
                            mtp_layers: ArrayLike) -> NDArrayFloat:
    r"""
    What the last stage's output layers and multi-token-prediction modules are worth in layers.

    Parameters
    ----------
    layer_forward_flop : array_like
        Forward FLOPs of one (average) transformer layer, :math:`F_l` [FLOP].
    head_forward_flop : array_like
        Forward FLOPs of one output layer (LM head), :math:`F_h` [FLOP].
    mtp_layers : array_like
        Multi-token-prediction modules, :math:`D` (each a layer and another head) [-].

    Returns
    -------
    numpy.ndarray
        :math:`c = \mathrm{round}\left(\frac{(1 + D) F_h + D F_l}{F_l}\right)` [-]
        (whole layers, half rounded up).

    Notes
    -----
    DeepSeek-V3 (61 layers, :math:`h` = 7168, :math:`V` = 129,280, one MTP module) comes to
    3-4 layers: Megatron-Bridge's layouts leave 1, 5 and 13 layers beside MTP and the loss
    on the last of 16, 8 and 4 stages, three to four fewer than the others [1]_. A dense
    model with a small vocabulary comes to 0 or 1.

    References
    ----------
    .. [1] NVIDIA-NeMo/Megatron-Bridge, ``recipes/deepseek/deepseek_v3.py``
       ``set_deepseek_v3_pipeline_model_parallel_layout``.
    """
    layer, d = as_float(layer_forward_flop), as_float(mtp_layers)
    return np.floor(((1.0 + d) * as_float(head_forward_flop) + d * layer) / layer + 0.5)
