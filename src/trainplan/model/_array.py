"""Array helpers shared by the model: the float conversion and the type aliases."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

ArrayLike: TypeAlias = npt.ArrayLike
"""Anything numpy turns into an array: a scalar, a sequence or an array."""

NDArrayFloat: TypeAlias = npt.NDArray[np.float64]
"""A float64 array (0-d for scalar inputs)."""

NDArrayInt: TypeAlias = npt.NDArray[np.int64]
"""An int64 array (codes and bit flags)."""

NDArrayBool: TypeAlias = npt.NDArray[np.bool_]
"""A boolean array."""


def as_float(x: ArrayLike) -> NDArrayFloat:
    """
    Convert a scalar, sequence or array to a float64 array.

    Parameters
    ----------
    x : array_like
        Values in any unit [any].

    Returns
    -------
    numpy.ndarray
        ``x`` as float64, in the unit of ``x`` (no copy when it already is one) [any].

    References
    ----------
    .. [1] colour-science, ``colour.utilities.as_float`` (the helper this one follows).
    """
    return np.asarray(x, dtype=np.float64)
