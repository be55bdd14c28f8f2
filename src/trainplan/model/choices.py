"""The per-row choices of the model as named enumerations, and the vectorised method registry.

Every choice is an :class:`enum.IntEnum` whose values are the integer codes
the input arrays carry (the resolver turns the words of a sweep or table into
them through the ``*_NAMES`` dicts). A model that differs by choice is a
registry ``{code: function}``; :func:`dispatch` evaluates, row by row, the
function each row's code names, and rejects a code without an entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import IntEnum

import numpy as np

from trainplan.model._array import ArrayLike


class Recompute(IntEnum):
    """Activation recomputation (Korthikanti et al. 2022, Sec. 5)."""

    NONE = 0
    """Every activation of the backward is stored."""
    SELECTIVE = 1
    """The attention core (``Q K^T``, softmax, ``softmax V``) is recomputed."""
    FULL = 2
    """Only each layer's input is stored; the whole layer's forward runs again."""


class Schedule(IntEnum):
    """Pipeline schedule (see :mod:`trainplan.model.pipeline`)."""

    GPIPE = 0
    """All forward passes, then all backward passes (Huang et al. 2019)."""
    ONE_F_ONE_B = 1
    """One forward, one backward (PipeDream-Flush; Narayanan et al. 2021)."""
    INTERLEAVED = 2
    """1F1B over ``v`` model chunks per GPU (Narayanan et al. 2021, Sec. 2.2)."""


class Algorithm(IntEnum):
    """Collective algorithm (see :mod:`trainplan.model.collectives`)."""

    RING = 0
    """Ring (Thakur et al. 2005)."""
    TREE = 1
    """Double binary tree (Sanders et al. 2009; NCCL)."""
    RHD = 2
    """Recursive halving-doubling (Rabenseifner; Thakur et al. 2005)."""
    HIERARCHICAL = 3
    """Two-level: inside the scale-up domain, then across domains on ``1/g_in`` of the data."""


RECOMPUTE_NAMES: dict[str, int] = {"none": Recompute.NONE, "selective": Recompute.SELECTIVE,
                                   "full": Recompute.FULL}
SCHEDULE_NAMES: dict[str, int] = {"gpipe": Schedule.GPIPE, "1f1b": Schedule.ONE_F_ONE_B,
                                  "interleaved": Schedule.INTERLEAVED}
ALGORITHM_NAMES: dict[str, int] = {"ring": Algorithm.RING, "tree": Algorithm.TREE,
                                   "rhd": Algorithm.RHD, "hierarchical": Algorithm.HIERARCHICAL}
"""Words of the input tables -> codes (the order of each dict is the order of the choices)."""


def dispatch(codes: ArrayLike, registry: Mapping[int, Callable[..., np.ndarray]],
             *args: ArrayLike) -> np.ndarray:
    """
    Per row, the value of ``registry[code](*args)`` for that row's code.

    Only the functions of codes that occur are evaluated; the result broadcasts
    against ``codes`` and the functions' results.

    Parameters
    ----------
    codes : array_like of int
        Method code per row (an :class:`enum.IntEnum` value of this module).
    registry : mapping of int to callable
        Function of each code.
    *args : array_like
        Arguments passed to every function, in the units it expects [any].

    Returns
    -------
    numpy.ndarray
        Each row's value of its method, in the unit of the functions' results.

    Raises
    ------
    ValueError
        When a code has no entry in ``registry``.

    References
    ----------
    .. [1] colour-science, ``colour.utilities.validate_method`` and the method
       registries (``XY_TO_CCT_METHODS``), made row-wise here.
    """
    codes = np.asarray(codes)
    covered = np.zeros(codes.shape, dtype=bool)
    out = None
    for code, function in registry.items():
        hit = codes == code
        if not hit.any():
            continue
        covered |= hit
        value = function(*args)
        out = value if out is None else np.where(hit, value, out)
    if not covered.all():
        unknown = sorted({int(c) for c in np.unique(codes[~covered])})
        raise ValueError(f"unknown code(s) {unknown}; known: {sorted(int(c) for c in registry)}")
    if out is None:   # no rows at all
        out = next(iter(registry.values()))(*args)
    return np.broadcast_to(out, np.broadcast_shapes(codes.shape, np.shape(out)))
