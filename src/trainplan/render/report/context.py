"""The template context of a report: the analysis, figures, launch material and validation
summary regrouped for the templates. Nothing here computes a number; every value comes from
``analysis.json``, the figure manifest, the launch material or ``validation.json``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from markupsafe import Markup

from trainplan.render.report.envelope import envelope_warnings


def figure_entries(figures: Iterable[dict]) -> list[dict]:
    """The figure manifest numbered, with ``src`` relative to the report; a file that is
    not a plain name inside ``figures/`` raises ValueError."""
    out = []
    for i, f in enumerate(figures or [], start=1):
        file = str(f["file"])
        if not file or PurePosixPath(file).name != file or file in (".", "..") or "\\" in file:
            raise ValueError(f"figure file must be a plain file name in figures/: {file!r}")
        out.append({"number": i, "name": f.get("name") or file, "file": file,
                    "src": "figures/" + file, "title": f.get("title") or "",
                    "caption": f.get("caption") or ""})
    return out


def _source_groups(rows: list[dict], medians: list[dict]) -> list[dict]:
    """Represented validation runs grouped by consecutive source, with the source's median."""
    groups: list[dict] = []
    for r in rows:
        if not groups or groups[-1]["source"] != r["source"]:
            groups.append({"source": r["source"], "rows": []})
        groups[-1]["rows"].append(r)
    median_of = {m["source"]: m for m in medians}
    for g in groups:
        g["median"] = median_of.get(g["source"], {}).get("median_abs_err_pct")
        g["n"] = median_of.get(g["source"], {}).get("n", 0)
    return groups


def validation_context(validation: dict | None, experts: bool = False) -> dict | None:
    """The validation summary (``validation.json``) grouped by source for the template;
    ``band`` is the error band page 1 prints: the leave-one-source-out one, or for a model
    with ``experts`` that of the measured MoE runs (``moe``) where the summary has them."""
    if validation is None:
        return None
    cv = _error_band(validation.get("cross_validation"))
    moe = _moe_band(validation.get("moe")) if experts else None
    rows = validation["rows"]
    represented = [r for r in rows if r["represented"]]
    oom = [r for r in represented if (r["measured_oom"] or "") == "yes"]
    return {
        "groups": _source_groups(represented, validation["per_source"]),
        "represented": len(represented),
        "rows": len(rows),
        "missing": [r for r in rows if not r["represented"]],
        "per_source": validation["per_source"],
        "oom_runs": len(oom),
        "oom_caught": sum(1 for r in oom if r["predicted_fits"] is False),
        "derived": sum(1 for r in represented if r["step_time_kind"] == "derived"),
        "summary_line": validation["summary_line"],
        "cv": cv,
        "band": moe or cv,
    }


def _moe_band(moe: dict | None) -> dict | None:
    """The band of the measured MoE runs' signed errors (as :func:`_error_band`), or None."""
    if not moe or not moe.get("n"):
        return None
    return {**moe, "kind": "moe",
            "low": 1.0 / (1.0 + moe["p90_signed_err_pct"] / 100.0),
            "high": 1.0 / (1.0 + moe["p10_signed_err_pct"] / 100.0)}


def _error_band(cv: dict | None) -> dict | None:
    r"""The out-of-sample error and the band it puts on a predicted time or cost.

    With :math:`e = \hat t / t - 1` the signed out-of-sample error of a run, a prediction
    :math:`\hat t` stands for a true value :math:`\hat t / (1 + e)`: between ``low`` and
    ``high`` times the prediction for the p90 and p10 of :math:`e`.
    """
    if not cv or not cv.get("out_of_sample", {}).get("n"):
        return None
    out = cv["out_of_sample"]
    return {**out, "kind": "cv", "in_sample": cv["in_sample"], "folds": cv["folds"],
            "fitted": cv["fitted_all"],
            "low": 1.0 / (1.0 + out["p90_signed_err_pct"] / 100.0),
            "high": 1.0 / (1.0 + out["p10_signed_err_pct"] / 100.0)}


def _assumption_groups(assumptions: list[dict]) -> list[dict]:
    """Assumptions grouped by their ``group``, groups in order of first appearance."""
    groups: list[dict] = []
    for a in assumptions or []:
        for g in groups:
            if g["group"] == a["group"]:
                g["items"].append(a)
                break
        else:
            groups.append({"group": a["group"], "items": [a]})
    return groups


_RANKINGS = (("overall", "Overall (step time)", "step_time_s", "Step time"),
             ("compute_efficiency", "Compute efficiency (MFU)", "mfu", "MFU"),
             ("communication", "Communication (exposed per step)", "exposed_comm_s",
              "Exposed comm."),
             ("memory", "Memory per GPU", "memory_gib", "Memory / GPU"))


def _rankings(rankings: dict) -> list[dict]:
    """The four rankings with their metric; only the memory ranking ranks infeasible entries."""
    out = []
    for key, title, metric, label in _RANKINGS:
        rank, rows = 0, []
        for item in rankings.get(key) or []:
            ranked = item["feasible"] or key == "memory"
            if ranked:
                rank += 1
            rows.append({"rank": rank if ranked else None, "item": item})
        out.append({"key": key, "title": title, "metric": metric, "label": label,
                    "rows": rows})
    return out


def _scaling_groups(scaling_efficiency: list[dict]) -> list[dict]:
    """Scaling-efficiency rows grouped by consecutive series (model, GPU type and the other
    scenario columns but the GPU count)."""
    groups: list[dict] = []
    for r in scaling_efficiency or []:
        key = r.get("series") or f"{r['model']} on {r['gpu']}"
        if not groups or groups[-1]["key"] != key:
            groups.append({"key": key, "series": key, "model": r["model"], "gpu": r["gpu"],
                           "rows": []})
        groups[-1]["rows"].append(r)
    return groups


def provenance_context(analysis: dict, generated: str | None) -> dict:
    """The cover's provenance: the generation date and ``analysis["provenance"]`` (absent in
    an analysis.json written before it existed: every field then shows as missing)."""
    prov = analysis.get("provenance") or {}
    commit = prov.get("commit")
    return {"generated": generated, "version": prov.get("trainplan_version"),
            "commit": commit[:12] if commit and commit != "unknown" else commit,
            "sweep_file": prov.get("sweep_file"), "sweep_sha256": prov.get("sweep_sha256"),
            "prices": prov.get("prices") or []}


LAUNCH_PRINT_LIMIT = 6
"""The PDF prints every scenario's launch scripts up to this many scenarios; beyond, it lists
them and the attached zip holds the files (the HTML always shows them, folded)."""


def context(analysis: dict, figures: list[dict], launch: dict | None,
            validation: dict | None, *, css: Markup, for_pdf: bool = False,
            pdf_name: str | None = None, generated: str | None = None,
            csv_name: str | None = None, launches: list | None = None,
            zip_name: str | None = None) -> dict:
    """Everything the report template needs, regrouped from the inputs (no new numbers);
    ``css`` is the stylesheet inlined in the page, ``generated`` the date on the cover,
    ``csv_name`` the file name of the scenario table as CSV (linked from the HTML),
    ``launches`` the launch material of every scenario winner and ``zip_name`` the zip that
    holds it (linked from the HTML, attached to the PDF)."""
    ref = analysis.get("reference")
    cfg = (ref.get("config") or {}) if ref else {}
    counts = analysis.get("counts") or {}
    configurations = counts.get("configurations") or analysis.get("grid_size") or 0
    reasons = [{"reason": k, "count": v, "share": (v / configurations if configurations else None)}
               for k, v in (counts.get("reasons") or {}).items()]
    return {
        "a": analysis,
        "ref": ref,
        "best": ref["best"] if ref else None,
        "cfg": cfg,
        "counts": counts,
        "configurations": configurations,
        "feasible_share": (counts.get("feasible", 0) / configurations if configurations
                           else None),
        "reasons": reasons,
        "rankings": _rankings(analysis.get("rankings") or {}),
        "scaling_eff": _scaling_groups(analysis.get("scaling_efficiency") or []),
        "assumption_groups": _assumption_groups(analysis.get("assumptions") or []),
        "figures": figure_entries(figures),
        "launch": launch,
        "launches": launches or [],
        "launch_print_limit": LAUNCH_PRINT_LIMIT,
        "zip_name": zip_name,
        "v": validation_context(validation, experts=(cfg.get("n_experts") or 0) > 0),
        "envelope": envelope_warnings({**ref["best"], "n_experts": cfg.get("n_experts")}
                                      if ref else None, validation,
                                      cfg.get("framework") or None),
        "for_pdf": for_pdf,
        "pdf_name": pdf_name,
        "csv_name": csv_name,
        "prov": provenance_context(analysis, generated),
        "css": css,
    }
