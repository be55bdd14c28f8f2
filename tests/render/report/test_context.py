"""The template context: figures checked and numbered, validation summary regrouped."""

from __future__ import annotations

import pytest

from trainplan.render import report
from trainplan.render.report.context import figure_entries, validation_context


def test_figure_files_must_be_plain_names(inputs):
    bad = [{**inputs["figures"][0], "file": "../../etc/passwd"}]
    with pytest.raises(ValueError, match="plain file name"):
        report.render_html(inputs["analysis"], bad, inputs["launch"], inputs["validation"])


@pytest.mark.parametrize("file", ["", ".", "..", "a/b.png", "a\\b.png", "/etc/passwd"])
def test_figure_entries_refuse_paths(file):
    with pytest.raises(ValueError, match="plain file name"):
        figure_entries([{"file": file}])


def test_figure_entries_are_numbered_with_defaults():
    entries = figure_entries([{"file": "a.png"}, {"file": "b.png", "name": "b", "title": "B"}])
    assert [e["number"] for e in entries] == [1, 2]
    assert entries[0] == {"number": 1, "name": "a.png", "file": "a.png", "src": "figures/a.png",
                          "title": "", "caption": ""}


def _run(source, represented=True, oom="", fits=True, kind="measured"):
    return {"source": source, "represented": represented, "measured_oom": oom,
            "predicted_fits": fits, "step_time_kind": kind}


def test_validation_context_groups_consecutive_sources():
    rows = [_run("A"), _run("A", oom="yes", fits=False), _run("B", kind="derived"),
            _run("B", represented=False), _run("A", oom="yes")]
    medians = [{"source": "A", "median_abs_err_pct": 3.0, "n": 3}]
    v = validation_context({"rows": rows, "per_source": medians, "summary_line": "s"})
    assert [(g["source"], len(g["rows"]), g["median"], g["n"]) for g in v["groups"]] == [
        ("A", 2, 3.0, 3), ("B", 1, None, 0), ("A", 1, 3.0, 3)]
    assert (v["represented"], v["rows"], len(v["missing"])) == (4, 5, 1)
    assert (v["oom_runs"], v["oom_caught"], v["derived"]) == (2, 1, 1)
    assert validation_context(None) is None


def test_the_error_band_turns_signed_errors_into_a_range_for_the_true_value():
    # predicted 20 % too fast for the p10 run, 10 % too slow for the p90 run: the truth is
    # between pred / 1.1 and pred / 0.8
    out = {"median_abs_err_pct": 8.0, "p90_abs_err_pct": 19.0, "p10_signed_err_pct": -20.0,
           "p90_signed_err_pct": 10.0, "n": 40}
    cv = {"in_sample": dict(out), "out_of_sample": out, "fitted_all": {"x": 1.0},
          "folds": []}
    v = validation_context({"rows": [], "per_source": [], "summary_line": "s",
                            "cross_validation": cv})
    assert v["cv"]["low"] == pytest.approx(1 / 1.1)
    assert v["cv"]["high"] == pytest.approx(1 / 0.8)
    assert validation_context({"rows": [], "per_source": [], "summary_line": "s"})["cv"] is None


def test_a_model_with_experts_carries_the_band_of_the_measured_moe_runs():
    """The dense leave-one-source-out band stays in ``cv`` (the accuracy section); page 1's
    ``band`` is the MoE runs' for a model with experts: 44 % too fast at p10 means the true
    time can be 1 / 0.56 of the prediction."""
    out = {"median_abs_err_pct": 8.0, "p90_abs_err_pct": 19.0, "p10_signed_err_pct": -20.0,
           "p90_signed_err_pct": 10.0, "n": 40}
    cv = {"in_sample": dict(out), "out_of_sample": out, "fitted_all": {}, "folds": []}
    moe = {"median_abs_err_pct": 23.0, "p90_abs_err_pct": 46.0, "p10_signed_err_pct": -44.0,
           "p90_signed_err_pct": 23.0, "n": 26, "runs": "moe_runs.csv"}
    summary = {"rows": [], "per_source": [], "summary_line": "s", "cross_validation": cv,
               "moe": moe}
    dense, experts = validation_context(summary), validation_context(summary, experts=True)
    assert dense["band"] == dense["cv"] and dense["band"]["low"] == pytest.approx(1 / 1.1)
    assert experts["cv"] == dense["cv"]
    assert experts["band"]["kind"] == "moe"
    assert experts["band"]["low"] == pytest.approx(1 / 1.23)
    assert experts["band"]["high"] == pytest.approx(1 / 0.56)
    no_moe = validation_context({**summary, "moe": {"n": 0}}, experts=True)
    assert no_moe["band"] == no_moe["cv"]
