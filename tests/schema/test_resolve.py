"""The one resolver: tables and grids resolve the same way; catalog cells fill per cell."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from trainplan import InputError, catalog, evaluate
from trainplan.schema.inputs import INPUTS
from trainplan.schema.resolve import resolve_frames

BASE = {"model": "llama2-7b", "gpu": "H100", "n_gpus": 16, "global_batch": 64}


def test_user_cells_win_over_the_catalog_cell_by_cell():
    out = evaluate(pl.DataFrame([{**BASE, "memory_gib": 40.0, "n_layers": 16},
                                 {**BASE, "memory_gib": None, "n_layers": None}]))
    assert out["memory_gib"].to_list() == [40.0, catalog.gpu("H100")["memory_gib"]]
    assert out["n_layers"].to_list() == [16, 32]             # Llama 2 7B: 32 layers


def test_integer_inputs_are_int64_and_dp_is_null_where_it_does_not_divide():
    out = evaluate(pl.DataFrame([{**BASE, "tp": 2}, {**BASE, "tp": 3}]))
    ints = [s.name for s in INPUTS if s.kind == "int"]
    assert {out.schema[c] for c in ints} == {pl.Int64}
    assert out["dp"].to_list() == [8, None]                  # 16 / 3 is not whole
    assert out["reason"][1].startswith("tp*pp*cp does not divide n_gpus")


def test_a_grid_axis_and_a_table_column_give_the_same_arrays():
    """Three micro-batch sizes on axis 1 of a 2-axis grid == the same values as table rows."""
    grid = resolve_frames([(pl.DataFrame({"gpu": ["H100", "A100"]}), 0),
                           (pl.DataFrame({"micro_batch": [1, 2, 4]}), 1),
                           (pl.DataFrame([{k: v for k, v in BASE.items() if k != "gpu"}]),
                            None)], 2)
    rows = pl.DataFrame([{**BASE, "gpu": g, "micro_batch": b}
                         for g in ("H100", "A100") for b in (1, 2, 4)])
    table = resolve_frames([(rows, 0)], 1)
    for name, values in table.values.items():
        flat = np.broadcast_to(grid.values[name], (2, 3)).ravel()
        assert np.array_equal(np.broadcast_to(values, (6,)), flat,
                              equal_nan=values.dtype.kind == "f"), name
    assert grid.values["micro_batch"].shape == (1, 3)
    assert grid.values["memory_gib"].shape == (2, 1)         # a GPU default: the GPU's axis


def test_grid_errors_count_values_and_tables_count_rows():
    with pytest.raises(InputError, match=r"^s.yaml: value 1: column 'tp' has value 2.5"):
        resolve_frames([(pl.DataFrame({"tp": [2, 2.5]}, strict=False), 0),
                        (pl.DataFrame([BASE]), None)], 1, "s.yaml: ", "value")
    with pytest.raises(InputError, match=r"^row 1: column 'tp' has value 2.5"):
        evaluate(pl.DataFrame([{**BASE, "tp": 2.0}, {**BASE, "tp": 2.5}]))


def test_global_batch_in_tokens_is_divided_by_the_sequence_length():
    resolved = resolve_frames([(pl.DataFrame([{**{k: v for k, v in BASE.items()
                                                   if k != "global_batch"},
                                                "global_batch_tokens": 2**20,
                                                "seq_len": 4096}]), None)], 0)
    assert float(resolved.values["global_batch"]) == 256.0
