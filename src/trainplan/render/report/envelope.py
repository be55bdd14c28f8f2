"""Is a recommendation inside the range the model was validated on?

The validation (``validation.json``) lists the published runs the model was scored on: their
GPU, framework, cluster size and measured MFU. A recommendation on a GPU or framework no scored
run used, on more GPUs than the largest scored run, at an MFU above every measured run on its
GPU, or for a model with experts when no scored run had any, is an extrapolation; the report
says so beside the numbers.
"""

from __future__ import annotations

from typing import Any


def _scored(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("abs_err_pct") is not None]


def envelope_warnings(best: dict[str, Any] | None, validation: dict | None,
                      framework: str | None = None) -> list[str]:
    """Sentences naming each way ``best`` lies outside the validated range (empty: inside).

    Parameters
    ----------
    best : dict or None
        The recommended configuration (``gpu``, ``n_gpus``, ``mfu`` [-], ``n_experts``).
    validation : dict or None
        ``validation.json`` (``rows`` with ``gpu``, ``framework``, ``n_gpus``,
        ``source_mfu`` (measured, or derived from the source's figures), ``abs_err_pct``,
        ``experts``).
    framework : str, optional
        The configuration's framework (blank: the model's defaults, not checked).
    """
    if not best or not validation:
        return []
    rows = _scored(validation.get("rows") or [])
    if not rows:
        return []
    out = []
    gpu, n_gpus = best.get("gpu"), best.get("n_gpus")
    on_gpu = [r for r in rows if r.get("gpu") == gpu]
    if not on_gpu:
        gpus = ", ".join(sorted({str(r["gpu"]) for r in rows}))
        out.append(f"No published run on {gpu} was scored: the prediction extrapolates the "
                   f"calibration from {gpus}.")
    largest = max((float(r["n_gpus"]) for r in rows if r.get("n_gpus") is not None),
                  default=None)
    if n_gpus is not None and largest is not None and float(n_gpus) > largest:
        out.append(f"{float(n_gpus):,.0f} GPUs is beyond the largest scored run "
                   f"({largest:,.0f} GPUs).")
    if framework:
        frameworks = {r.get("framework") for r in rows}
        if framework not in frameworks:
            out.append(f"No published run with {framework} was scored.")
    moe = validation.get("moe") or {}
    if (best.get("n_experts") or 0) > 0 and not any(r.get("experts") for r in rows):
        if moe.get("n"):
            out.append(f"No mixture-of-experts run is in the calibration table: the error band "
                       f"is that of {moe['n']} measured MoE runs nothing is fitted on "
                       f"({moe.get('runs')}), on which the model is mostly too fast (median "
                       f"error {moe['median_abs_err_pct']:.0f} %).")
        else:
            out.append("No mixture-of-experts run was scored: the error band is that of dense "
                       "models. On held-out measured MoE runs the model is mostly too fast "
                       "(benchmarks/heldout/moe_runs.csv; README, Measured accuracy).")
    measured = [float(r["source_mfu"]) for r in on_gpu if r.get("source_mfu") is not None]
    mfu = best.get("mfu")
    if measured and mfu is not None and float(mfu) > 1.05 * max(measured):
        out.append(f"The predicted MFU ({float(mfu):.0%}) is above every measured run on "
                   f"{gpu} (at most {max(measured):.0%}).")
    return out
