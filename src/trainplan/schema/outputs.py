"""Output columns of an evaluation: name, unit, meaning and type (stable; generated into
``docs/outputs.md``).

The numeric outputs are the fields of :class:`trainplan.model.result.StepResult` (unit and
meaning from each field's metadata); the text labels derived from them (strategy,
feasibility, reason, bottleneck) are declared here. Column order: the labels that say what a
row is and whether it runs, the step model's outputs, with the bottleneck after the
utilisations it explains.
"""

from __future__ import annotations

from dataclasses import fields

from trainplan.model.result import StepResult

_LEADING: dict[str, tuple[str, str]] = {
    "strategy": ("-", "DP, TP, PP, 2D or 3D, derived from the parallel degrees"),
    "feasible": ("-", "true when the configuration divides evenly and fits in memory"),
    "reason": ("-", "why an infeasible configuration cannot run ('' when feasible)"),
}
_BOTTLENECK = ("-", "the largest part of the step time")
_BOTTLENECK_AFTER = "hfu"


def _model_outputs() -> dict[str, tuple[str, str]]:
    """Unit and meaning of every StepResult field, the feasibility flags first."""
    out = {f.name: (f.metadata["unit"], f.metadata["description"]) for f in fields(StepResult)}
    flags = out.pop("infeasible_flags")
    return {"infeasible_flags": flags, **out}


def _outputs() -> dict[str, tuple[str, str]]:
    """Every output column in table order."""
    out = dict(_LEADING)
    for name, spec in _model_outputs().items():
        out[name] = spec
        if name == _BOTTLENECK_AFTER:
            out["bottleneck"] = _BOTTLENECK
    return out


OUTPUTS: dict[str, tuple[str, str]] = _outputs()
"""``{column: (unit, meaning)}`` in table order."""

OUTPUT_COLUMNS = tuple(OUTPUTS)

STRING_OUTPUTS = ("strategy", "reason", "bottleneck")
"""Text labels derived from the numbers (the rest are numeric or boolean)."""

INTEGER_OUTPUTS = ("infeasible_flags", "pp_layers_first", "pp_layers_last")
"""Whole-number outputs (Int64 columns)."""

OUTPUT_DTYPES: dict[str, str] = {
    name: ("String" if name in STRING_OUTPUTS else "Boolean" if name in ("feasible",
           "fits_memory") else "Int64" if name in INTEGER_OUTPUTS else "Float64")
    for name in OUTPUTS}
"""Column type of every output in the tables."""

KEY_COLUMNS: dict[str, tuple[str, str]] = {
    "config_id": ("Int64", "the configuration's C-order index in its sweep's grid (stable "
                           "whatever the sharding)"),
    "scenario_id": ("Int64", "the scenario's index: mixed-radix over the sweep's scenario "
                             "axes; every table carries it"),
}
"""Key columns that lead every table a sweep writes."""
