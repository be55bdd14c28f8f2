"""Page 1 answers the sweep's question: the answer table over its scenario axes."""

from __future__ import annotations

import io

from trainplan.render.report.filters import money_short


def test_page_one_holds_every_scenario_of_the_answer(written, inputs):
    from pypdf import PdfReader

    answer = inputs["analysis"]["answer"]
    assert answer["matrix"] is not None                   # tiny: model x n_gpus
    page1 = PdfReader(io.BytesIO(written["pdf"].read_bytes())).pages[0].extract_text()
    flat = " ".join(page1.split())
    assert "The answer by model and n_gpus" in flat
    for row in answer["rows"]:
        if row["feasible"]:
            assert f"{row['time_to_train_days']:,.0f} d" in flat
            assert money_short(row["cost_usd"]) in flat
