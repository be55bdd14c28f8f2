"""A sweep's grid as broadcasting arrays, cut into blocks and shards.

Axis ``k`` of a grid with ``K`` axes is an array of shape ``(1, ..., n_k, ..., 1)``;
constants are 0-d. The model therefore evaluates the whole cartesian product by
numpy broadcasting: a quantity that depends on the tensor-parallel degree and
the micro-batch only is computed once per (tp, micro_batch) pair, not once per
configuration. The grid is never materialised whole: it is evaluated in
*blocks* (sub-grids that fix the first few axes, at most ``block_limit``
configurations each), and consecutive blocks form the *shards* that Snakemake
runs as separate jobs.

Configuration ``config_id`` is the C-order flat index into the full grid, so the
same sweep numbers its configurations the same way however it is sharded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from trainplan import catalog
from trainplan.model import feasibility as fe
from trainplan.model.pipeline import SCHEDULE_NAMES
from trainplan.model.step import BOTTLENECKS, bottleneck_code
from trainplan.schema.inputs import ARCH_COLUMNS, INPUT_BY_NAME, INPUTS, InputError
from trainplan.schema.outputs import OUTPUT_COLUMNS
from trainplan.schema.resolve import (
    HIDDEN_HARDWARE,
    _column,
    catalog_model_values,
    derive,
    gpu_constants,
    gpu_defaults,
)
from trainplan.schema.table import evaluate_numeric
from trainplan.sweep.file import Sweep

STRING_OUTPUTS = ("strategy", "reason", "bottleneck")


@dataclass(frozen=True)
class Block:
    """A sub-grid: the first ``len(prefix)`` axes fixed at ``prefix``, the rest whole."""

    prefix: tuple[int, ...]
    start: int          # config_id of its first configuration
    size: int


class Grid:
    """The broadcasting arrays of a sweep's inputs."""

    def __init__(self, sweep: Sweep):
        self.sweep = sweep
        self.names = [a.name for a in sweep.axes]
        self.shape = tuple(len(a.values) for a in sweep.axes)
        self.size = math.prod(self.shape)
        self.values: dict[str, np.ndarray] = {}
        self.axis_of: dict[str, int | None] = {}
        self.labels: dict[str, list[str]] = {}      # string inputs: their distinct values
        self._resolve()

    # --- building the arrays -----------------------------------------------------------------

    def _place(self, column: str, array: np.ndarray, axis: int | None) -> None:
        if axis is None:
            self.values[column] = np.asarray(array).reshape(())
        else:
            shape = [1] * len(self.shape)
            shape[axis] = -1
            self.values[column] = np.asarray(array).reshape(shape)
        self.axis_of[column] = axis

    def _given(self, name: str) -> tuple[list, int | None] | None:
        if name in self.names:
            i = self.names.index(name)
            return self.sweep.axes[i].values, i
        if name in self.sweep.constants:
            return [self.sweep.constants[name]], None
        return None

    def _check(self, spec, raw: list, axis: int | None) -> np.ndarray:
        where = f"{self.sweep.path}: "
        try:
            return _column(pl.DataFrame({spec.name: raw}, strict=False), spec, where)
        except InputError as err:
            raise InputError(str(err).replace("row ", "value ")) from None

    def _resolve(self) -> None:
        sweep = self.sweep
        where = f"{sweep.path}: "
        # models: catalog names or inline dimensions
        models, model_axis = self._given("model")
        records = []
        for rec in models:
            if set(rec) == {"model"}:
                records.append({"model": rec["model"],
                                **catalog_model_values(catalog.model(rec["model"]))})
            else:
                records.append(dict(rec))
        self.labels["model"] = [r["model"] for r in records]
        self._place("model", np.array(self.labels["model"], dtype=object), model_axis)
        table = pl.DataFrame({c: [r.get(c) for r in records] for c in ARCH_COLUMNS},
                             strict=False)
        for column in ARCH_COLUMNS:
            self._place(column, _column(table, INPUT_BY_NAME[column], where), model_axis)
        seq = self._given("seq_len")
        if seq is None:
            defaults = [r.get("seq_len") for r in records]
            if any(d is None for d in defaults):
                raise InputError(f"{where}job.seq_len is required (an inline model has no "
                                 "default sequence length)")
            seq = (defaults, model_axis)
        self._place("seq_len", self._check(INPUT_BY_NAME["seq_len"], *seq), seq[1])
        # accelerators: catalog defaults the sweep did not set, and their constants
        gpus, gpu_axis = self._given("gpu")
        entries = [catalog.gpu(g) for g in gpus]
        self.labels["gpu"] = [e["name"] for e in entries]
        self._place("gpu", np.array(self.labels["gpu"], dtype=object), gpu_axis)
        for column in list(gpu_defaults(entries[0])) + list(HIDDEN_HARDWARE):
            if column in gpu_defaults(entries[0]) and self._given(column) is not None:
                continue
            raw = [{**gpu_defaults(e), **gpu_constants(e)}[column] for e in entries]
            self._place(column, np.array(raw), gpu_axis)
        # every other input: given (axis or constant) or its default
        for spec in INPUTS:
            if spec.name in self.values or spec.kind == "name" or spec.name in ("dp", "n_gpus"):
                continue
            given = self._given(spec.name)
            if given is None:
                if spec.name == "global_batch" and self._given("global_batch_tokens"):
                    continue
                if spec.default is None:
                    raise InputError(f"{where}{spec.name} is required ({spec.description})")
                given = ([spec.default], None)
            self._place(spec.name, self._check(spec, *given), given[1])
            if spec.kind == "choice":
                self.labels[spec.name] = [str(v).lower() for v in given[0]]
        tokens = self._given("global_batch_tokens")
        if tokens is not None:
            arr = np.asarray(tokens[0], dtype=np.float64)
            shape = [1] * len(self.shape)
            if tokens[1] is not None:
                shape[tokens[1]] = -1
            self.values["global_batch"] = arr.reshape(shape) / self.values["seq_len"]
        for name in ("dp", "n_gpus"):
            given = self._given(name)
            spec = INPUT_BY_NAME[name]
            if given is None:
                self._place(name, np.array(np.nan), None)
            else:
                self._place(name, self._check(spec, *given), given[1])

    # --- blocks and shards ---------------------------------------------------------------------

    def prefix_length(self, block_limit: int) -> int:
        """Fewest leading axes to fix so that a block has at most ``block_limit`` configs."""
        for j in range(len(self.shape) + 1):
            if math.prod(self.shape[j:]) <= block_limit:
                return j
        return len(self.shape)

    def blocks(self, block_limit: int) -> list[Block]:
        j = self.prefix_length(block_limit)
        size = math.prod(self.shape[j:])
        return [Block(tuple(int(x) for x in prefix), i * size, size)
                for i, prefix in enumerate(np.ndindex(*self.shape[:j]))]

    def shards(self, shard_size: int, block_limit: int) -> list[list[Block]]:
        """Consecutive blocks grouped into shards of about ``shard_size`` configurations."""
        blocks = self.blocks(min(block_limit, shard_size))
        per_shard = max(1, shard_size // blocks[0].size)
        return [blocks[i:i + per_shard] for i in range(0, len(blocks), per_shard)]

    def block_values(self, block: Block) -> dict[str, np.ndarray]:
        """Input arrays of one block (the fixed axes sliced to length one)."""
        out = {}
        for column, array in self.values.items():
            axis = self.axis_of.get(column)
            if axis is not None and axis < len(block.prefix):
                index = block.prefix[axis]
                array = array.take([index], axis=axis)
            elif axis is None and array.ndim == len(self.shape) and len(block.prefix):
                # derived arrays (global_batch from tokens) carry the axes they depend on
                for k, index in enumerate(block.prefix):
                    if array.shape[k] > 1:
                        array = array.take([index], axis=k)
            out[column] = array
        return out

    def block_shape(self, block: Block) -> tuple[int, ...]:
        return (1,) * len(block.prefix) + self.shape[len(block.prefix):]

    def evaluate_block(self, block: Block) -> tuple[dict[str, np.ndarray],
                                                     dict[str, np.ndarray]]:
        """``(values, outputs)`` of a block, all broadcastable to :meth:`block_shape`."""
        values = self.block_values(block)
        arrays = derive(values)
        outputs = evaluate_numeric(arrays)
        values = {**values, "dp": arrays["dp"], "n_gpus": arrays["n_gpus"],
                  "schedule_code": arrays["schedule"]}
        return values, outputs

    def config_ids(self, block: Block) -> np.ndarray:
        return block.start + np.arange(block.size, dtype=np.int64)


def _flat(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(array, shape)).ravel()


def _strings(name: str, labels, codes: np.ndarray) -> pl.Series:
    """A string column from a few labels and an index per row (gathered in Rust)."""
    return pl.Series(name, [str(x) for x in labels], dtype=pl.String).gather(
        np.asarray(codes, dtype=np.int64))


def block_table(grid: Grid, block: Block, values: dict[str, np.ndarray],
                outputs: dict[str, np.ndarray], rows: np.ndarray | None = None) -> pl.DataFrame:
    """The rows of a block (or of its flat positions ``rows``) with every input and output.

    Column order: ``config_id``, the inputs in :data:`trainplan.inputs.INPUTS` order, the
    outputs in :data:`trainplan.outputs.OUTPUT_COLUMNS` order.
    """
    shape = grid.block_shape(block)

    def pick(array):
        flat = _flat(array, shape)
        return flat if rows is None else flat[rows]

    ids = grid.config_ids(block)
    columns = [pl.Series("config_id", ids if rows is None else ids[rows])]
    for spec in INPUTS:
        name = spec.name
        if name == "schedule":
            columns.append(_strings(name, list(SCHEDULE_NAMES), pick(values["schedule_code"])))
            continue
        array = values[name]
        if spec.kind in ("choice", "name"):
            labels, codes = np.unique(np.asarray(array, dtype=object).astype(str),
                                      return_inverse=True)
            columns.append(_strings(name, labels, pick(codes.reshape(np.shape(array)))))
        elif spec.kind == "bool":
            columns.append(pl.Series(name, pick(np.asarray(array, dtype=bool))))
        else:
            columns.append(pl.Series(name, pick(np.asarray(array, dtype=np.float64))))
    flags = pick(outputs["infeasible_flags"])
    strategy = pick(fe.strategy_index(values["dp"], values["tp"], values["pp"], values["cp"]))
    picked = {name: pick(outputs[name]) for name in OUTPUT_COLUMNS if name not in STRING_OUTPUTS}
    bottleneck = bottleneck_code(picked)
    flag_values, flag_codes = np.unique(flags, return_inverse=True)
    for name in OUTPUT_COLUMNS:
        if name == "strategy":
            columns.append(_strings(name, fe.STRATEGY_LABELS, strategy))
        elif name == "reason":
            columns.append(_strings(name, fe.reason_text(flag_values), flag_codes))
        elif name == "bottleneck":
            columns.append(_strings(name, BOTTLENECKS, bottleneck))
        else:
            columns.append(pl.Series(name, picked[name]))
    return pl.DataFrame(columns)
