"""The fit of the end-to-end constants and leave-one-source-out cross-validation."""

from __future__ import annotations

import polars as pl
import pytest

from trainplan.schema.inputs import INPUT_BY_NAME
from trainplan.validation import fit
from trainplan.validation.runs import read_runs, shipped_runs_path


@pytest.fixture(scope="module")
def runs():
    """Four runs of each shipped source (enough to fit, quick to evaluate)."""
    table = read_runs(shipped_runs_path())
    return table.filter(pl.int_range(pl.len()).over("source") < 4)


def _planted(runs: pl.DataFrame, point: dict) -> pl.DataFrame:
    """``runs`` with measured step times replaced by the model's own at ``point``."""
    table = fit.predict_grid(runs, [point])
    times = dict(zip(table["run"].to_list(), table["predicted_step_time_s"].to_list(),
                     strict=True))
    idx = pl.int_range(pl.len()).alias("_i")
    return (runs.with_columns(idx)
            .with_columns(pl.col("_i").replace_strict(times, default=None)
                          .cast(pl.String).alias("measured_step_time_s"))
            .filter(pl.col("measured_step_time_s").is_not_null())
            .drop("_i"))


def test_every_fitted_input_declares_a_grid_holding_its_default():
    grids = fit.fitted_inputs()
    assert grids, "the model has fitted inputs; each must be declared"
    for name, grid in grids.items():
        spec = INPUT_BY_NAME[name]
        assert spec.default in grid, name
        assert "fitted" in spec.source, f"{name}: the source must say what it was fitted on"


def test_the_fit_recovers_a_planted_constant_and_scores_it_out_of_sample(runs):
    planted = _planted(runs, {"overlap_efficiency": 0.5})
    assert planted["source"].n_unique() >= 3
    cv = fit.cross_validate(planted, {"overlap_efficiency": (0.3, 0.5, 0.9)})
    assert cv.fitted_all == {"overlap_efficiency": 0.5}
    assert cv.out_of_sample["median_abs_err_pct"] == pytest.approx(0.0, abs=1e-9)
    assert [f["constants"] for f in cv.folds] == [{"overlap_efficiency": 0.5}] * len(cv.folds)


def test_out_of_sample_is_never_better_than_in_sample_on_the_training_loss(runs):
    cv = fit.cross_validate(runs, {"overlap_efficiency": (0.4, 0.7, 1.0)})
    assert cv.out_of_sample["n"] == cv.in_sample["n"] == cv.rows.height
    assert {f["source"] for f in cv.folds} == set(cv.rows["source"])
    in_loss = (cv.rows["in_sample_err_pct"] / 100 + 1).log().abs().mean()
    out_loss = (cv.rows["out_of_sample_err_pct"] / 100 + 1).log().abs().mean()
    assert out_loss >= in_loss - 1e-12


def test_one_grid_point_gives_the_same_errors_in_and_out_of_sample(runs):
    cv = fit.cross_validate(runs, {"overlap_efficiency": (0.7,)})
    assert cv.rows["in_sample_err_pct"].to_list() == cv.rows["out_of_sample_err_pct"].to_list()
    assert "in-sample" in fit.format_cv(cv) and "out-of-sample" in fit.format_cv(cv)


def test_validate_cv_prints_both_and_keeps_the_last_line(runs, tmp_path, capsys):
    from trainplan.cli import main

    path = tmp_path / "runs.csv"
    runs.write_csv(path)
    assert main(["validate", str(path)]) == 0
    plain = capsys.readouterr().out.strip().splitlines()
    assert main(["validate", str(path), "--cv", "source"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == plain[-1] and lines[-1].startswith("median_abs_err_pct=")
    text = "\n".join(lines)
    assert "out-of-sample   median_abs_err_pct=" in text and "in-sample " in text
