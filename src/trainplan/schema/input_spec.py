"""One input column: the declaration every input of :mod:`trainplan.schema.inputs` uses.

The groups say which part of a plan an input belongs to; a ``parallel`` input is a layout
choice (how the work is split), every other group is part of a scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODEL = "model"
HARDWARE = "hardware"
JOB = "job"
PARALLEL = "parallel"
EFFICIENCY = "efficiency"
BUDGET = "budget"
"""The groups of inputs, in the order the documentation lists them."""


class InputError(ValueError):
    """A configuration value that is missing, of the wrong type or not allowed."""


@dataclass(frozen=True)
class Input:
    """One input column: its unit, what is allowed, its default and where the default comes from."""

    name: str
    kind: str                       # "int", "float", "bool", "choice", "name"
    description: str
    unit: str = "-"
    default: Any = None             # None: required (or filled from a catalog)
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    source: str = ""
    group: str = "parallel"
    from_catalog: bool = False
    fit_grid: tuple[float, ...] = ()  # values searched when the default is fitted to runs

    @property
    def dtype(self) -> str:
        """Column type in the output tables: Int64, Float64, Boolean or String."""
        return {"int": "Int64", "float": "Float64", "bool": "Boolean"}.get(self.kind, "String")

    @property
    def layout(self) -> bool:
        """A parallel-layout choice (how the work is split), not part of a scenario."""
        return self.group == PARALLEL
