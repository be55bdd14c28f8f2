"""The vocabulary of the tables: strategy labels of the degrees and the bottleneck of a step."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayInt

STRATEGIES = ("single GPU", "DP", "TP", "PP", "2D (DP x TP)", "2D (DP x PP)", "2D (TP x PP)",
              "3D (DP x TP x PP)")
"""The shapes of the five strategies of the original study (and none)."""

STRATEGY_LABELS = (*STRATEGIES, *(s + " + CP" for s in STRATEGIES),
                   *(s + " + EP" for s in STRATEGIES), *(s + " + CP + EP" for s in STRATEGIES))
"""Every strategy label; :func:`strategy_index` indexes into it."""

BOTTLENECKS = ("compute", "tensor-parallel communication", "context-parallel communication",
               "expert-parallel communication", "data-parallel communication",
               "pipeline bubble", "pipeline communication", "optimizer step")
"""Names of the parts of the step time, in the order of :data:`BOTTLENECK_PARTS`."""

BOTTLENECK_PARTS = ("compute_time_s", "tp_exposed_s", "cp_exposed_s", "ep_exposed_s",
                    "dp_exposed_s", "bubble_time_s", "pp_exposed_s", "optimizer_time_s")
"""The output columns of those parts."""


def strategy_code(dp: ArrayLike, tp: ArrayLike, pp: ArrayLike) -> NDArrayInt:
    r"""
    Index into :data:`STRATEGIES` of the shape of the degrees.

    Parameters
    ----------
    dp, tp, pp : array_like
        Data- (with context-), tensor- and pipeline-parallel degrees [-].

    Returns
    -------
    numpy.ndarray
        Index (int64) [-].

    Notes
    -----
    Each degree above one sets a bit, :math:`k = 4 [d > 1] + 2 [t > 1] + [p > 1]`,
    and a lookup table orders the eight shapes as :data:`STRATEGIES` does.

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2 (data, tensor and pipeline
       parallelism and their combination, PTD-P).
    """
    d = (np.asarray(dp) > 1).astype(np.int64)
    t = (np.asarray(tp) > 1).astype(np.int64)
    p = (np.asarray(pp) > 1).astype(np.int64)
    key = d * 4 + t * 2 + p
    # key: 0 none, 1 pp, 2 tp, 3 tp+pp, 4 dp, 5 dp+pp, 6 dp+tp, 7 all
    lookup = np.array([0, 3, 2, 6, 1, 5, 4, 7], dtype=np.int64)
    return lookup[key]


def strategy_index(dp: ArrayLike, tp: ArrayLike, pp: ArrayLike, cp: ArrayLike = 1,
                   ep: ArrayLike = 1) -> NDArrayInt:
    r"""
    Index into :data:`STRATEGY_LABELS` of the degrees' strategy.

    Parameters
    ----------
    dp, tp, pp, cp, ep : array_like
        Data-, tensor-, pipeline-, context- and expert-parallel degrees [-].

    Returns
    -------
    numpy.ndarray
        Index (int64) [-].

    Notes
    -----
    Context parallelism counts with data parallelism for the shape
    (:func:`strategy_code` of :math:`d c`, :math:`t`, :math:`p`) and adds " + CP";
    expert parallelism (which splits the experts over data-parallel ranks) adds " + EP":
    :math:`i = k + 8 [c > 1] + 16 [ep > 1]`.

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2 (data, tensor and pipeline
       parallelism and their combination, PTD-P).
    """
    cp, ep = np.asarray(cp, dtype=np.float64), np.asarray(ep, dtype=np.float64)
    return (strategy_code(np.asarray(dp) * cp, tp, pp) + len(STRATEGIES) * (cp > 1)
            + 2 * len(STRATEGIES) * (ep > 1))


def strategy_label(dp: ArrayLike, tp: ArrayLike, pp: ArrayLike,
                   cp: ArrayLike = 1, ep: ArrayLike = 1) -> np.ndarray:
    r"""
    Strategy names (DP, TP, PP, 2D, 3D, + CP, + EP) of the parallel degrees.

    Parameters
    ----------
    dp, tp, pp, cp, ep : array_like
        Data-, tensor-, pipeline-, context- and expert-parallel degrees [-].

    Returns
    -------
    numpy.ndarray
        Labels of :data:`STRATEGY_LABELS` (object array) [-].

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2 (data, tensor and pipeline
       parallelism and their combination, PTD-P).
    """
    return np.array(STRATEGY_LABELS, dtype=object)[strategy_index(dp, tp, pp, cp, ep)]


def bottleneck_code(outputs: Mapping[str, np.ndarray]) -> NDArrayInt:
    r"""
    Index into :data:`BOTTLENECKS` of the largest part of the step time (first on ties).

    Works on whole output arrays or on a selection of rows of each of them.

    Parameters
    ----------
    outputs : mapping of str to numpy.ndarray
        At least the columns of :data:`BOTTLENECK_PARTS`, in seconds [s].

    Returns
    -------
    numpy.ndarray
        Index (int64) [-].

    Notes
    -----
    :math:`\arg\max_k T_k` over compute, exposed TP, CP and DP communication, bubble,
    pipeline point-to-point and optimizer time, the parts of the step time of
    :func:`~trainplan.model.throughput.step_time_s`.

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2.2 and 5 (the parts of the
       iteration time).
    """
    best = np.asarray(outputs[BOTTLENECK_PARTS[0]], dtype=np.float64)
    code = np.zeros(best.shape, dtype=np.int64)
    for k, name in enumerate(BOTTLENECK_PARTS[1:], start=1):
        part = np.asarray(outputs[name], dtype=np.float64)
        larger = part > best
        code = np.where(larger, k, code)
        best = np.maximum(best, part)
    return code
