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
    """``x`` as a float64 array (no copy when it already is one)."""
    return np.asarray(x, dtype=np.float64)
