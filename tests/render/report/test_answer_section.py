"""Page 1 answers the sweep's question: the answer table over its scenario axes."""

from __future__ import annotations

import io

import pytest

from trainplan.render.report.filters import money_short

pytestmark = pytest.mark.pdf   # whole PDFs with WeasyPrint: CI runs them (-m pdf)


def test_page_one_holds_every_scenario_of_the_answer_with_its_band(written, inputs):
    from pypdf import PdfReader

    from trainplan.render.report.context import validation_context
    from trainplan.render.report.filters import days_range, money_range

    answer = inputs["analysis"]["answer"]
    assert answer["matrix"] is not None                   # tiny: model x n_gpus
    page1 = PdfReader(io.BytesIO(written["pdf"].read_bytes())).pages[0].extract_text()
    flat = " ".join(page1.split())
    assert "The answer by model, GPUs" in flat
    band = validation_context(inputs["validation"])["cv"]
    assert band["low"] < 1 < band["high"]
    for row in answer["rows"]:
        if row["feasible"]:
            days = row["time_to_train_days"]
            assert f"{days:,.0f} d {days_range(days, band['low'], band['high'])}" in flat
            cost = row["cost_usd"]
            assert f"{money_short(cost)} {money_range(cost, band['low'], band['high'])}" in flat


def test_page_one_shows_steady_state_and_expected_time_gpu_hours_and_cost(written, inputs):
    """Budget realism on page 1: the reference's steady-state and expected (failures,
    checkpoints, restarts) figures in the summary and the key figures, and the expected
    days and cost of every scenario in the answer table."""
    from pypdf import PdfReader

    from trainplan.render.report.filters import count, days, money

    cfg = inputs["analysis"]["reference"]["config"]
    assert cfg["expected_time_to_train_days"] > cfg["time_to_train_days"]
    pages = PdfReader(io.BytesIO(written["pdf"].read_bytes())).pages
    flat = " ".join(pages[0].extract_text().split())
    for row in inputs["analysis"]["answer"]["rows"]:
        if row["feasible"]:
            assert (f"exp. {row['expected_time_to_train_days']:,.0f} d · "
                    f"{money_short(row['expected_cost_usd'])}") in flat
    # the reference's key figures follow the answer (page 1 or 2 with a long answer)
    flat = " ".join((pages[0].extract_text() + " " + pages[1].extract_text()).split())
    assert "STEADY STATE" in flat.upper() and "EXPECTED" in flat.upper()
    assert "With failures, checkpoints and restarts, expect" in flat
    for key in ("time_to_train_days", "expected_time_to_train_days"):
        assert days(cfg[key]) in flat, key
    for key in ("gpu_hours", "expected_gpu_hours"):
        assert count(cfg[key]) in flat, key
    for key in ("cost_usd", "expected_cost_usd"):
        assert money(cfg[key]) in flat, key


def test_the_assumptions_list_the_budget_inputs_with_their_sources(html):
    for name in ("failures_per_gpu_hour", "checkpoint_write_gbyte_s_per_gpu", "restart_s",
                 "host_power_fraction", "pue", "electricity_usd_per_kwh", "capex_usd_per_gpu",
                 "amortisation_years"):
        assert f'<span class="mono">{name}</span>' in html, name
    assert "419 unexpected interruptions" in html and "<caption>Budget</caption>" in html
