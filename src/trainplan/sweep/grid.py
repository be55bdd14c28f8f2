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
same sweep numbers its configurations the same way however it is sharded. A block
with ``stop`` is a run of consecutive blocks (the pruned search screens them at
once, :mod:`trainplan.sweep.prune`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from trainplan.model import feasibility as fe
from trainplan.schema.inputs import ARCH_COLUMNS
from trainplan.schema.resolve import derive, resolve_frames
from trainplan.schema.table import assemble, evaluate_numeric, model_values
from trainplan.sweep.file import Sweep


@dataclass(frozen=True)
class Block:
    """A sub-grid: the first ``len(prefix)`` axes fixed at ``prefix``, the rest whole; with
    ``stop``, a run of consecutive blocks: the last fixed axis runs over
    ``[prefix[-1], stop)``."""

    prefix: tuple[int, ...]
    start: int          # config_id of its first configuration
    size: int
    stop: int | None = None

    def indices(self, axis: int) -> list[int]:
        """The positions a fixed axis takes."""
        if self.stop is not None and axis == len(self.prefix) - 1:
            return list(range(self.prefix[axis], self.stop))
        return [self.prefix[axis]]


@dataclass(frozen=True)
class ShardPlan:
    """How a grid of ``shape`` is cut: blocks fix the first ``prefix_length`` axes; a shard
    is ``blocks_per_shard`` consecutive blocks. The one place this arithmetic lives (the
    workflow asks for the number of shards before any array is built)."""

    prefix_length: int
    block_size: int
    n_blocks: int
    blocks_per_shard: int

    @classmethod
    def of(cls, shape: tuple[int, ...], shard_size: int, block_limit: int) -> ShardPlan:
        """The plan for shards of about ``shard_size`` and blocks of at most ``block_limit``
        configurations (a block never exceeds either)."""
        limit = min(block_limit, shard_size)
        j = next((j for j in range(len(shape) + 1) if math.prod(shape[j:]) <= limit),
                 len(shape))
        size = math.prod(shape[j:])
        return cls(j, size, math.prod(shape[:j]), max(1, shard_size // size))

    @property
    def n_shards(self) -> int:
        return -(-self.n_blocks // self.blocks_per_shard)


class Grid:
    """The broadcasting arrays of a sweep's inputs."""

    def __init__(self, sweep: Sweep):
        self.sweep = sweep
        self.names = [a.name for a in sweep.axes]
        self.shape = tuple(len(a.values) for a in sweep.axes)
        self.size = math.prod(self.shape)
        resolved = resolve_frames(self._frames(), len(self.shape), f"{sweep.path}: ", "value")
        self.values: dict[str, np.ndarray] = resolved.values
        self.axis_of: dict[str, int | None] = resolved.axis_of

    def _frames(self) -> list[tuple[pl.DataFrame, int | None]]:
        """One frame per axis (its values) and one of the constants; models as records."""
        def frame(name: str, values: list) -> pl.DataFrame:
            if name == "model":
                return pl.DataFrame({c: [r.get(c) for r in values]
                                     for c in ("model", *ARCH_COLUMNS)},
                                    strict=False)
            return pl.DataFrame({name: values}, strict=False)

        frames = [(frame(a.name, a.values), i) for i, a in enumerate(self.sweep.axes)]
        constants = [frame(k, [v]) for k, v in self.sweep.constants.items()]
        if constants:
            frames.append((pl.concat(constants, how="horizontal"), None))
        return frames

    # --- blocks and shards ---------------------------------------------------------------------

    def blocks(self, block_limit: int) -> list[Block]:
        """The blocks of at most ``block_limit`` configurations, in config_id order."""
        plan = ShardPlan.of(self.shape, block_limit, block_limit)
        return [Block(tuple(int(x) for x in prefix), i * plan.block_size, plan.block_size)
                for i, prefix in enumerate(np.ndindex(*self.shape[:plan.prefix_length]))]

    def shards(self, shard_size: int, block_limit: int) -> list[list[Block]]:
        """Consecutive blocks grouped into shards of about ``shard_size`` configurations."""
        plan = ShardPlan.of(self.shape, shard_size, block_limit)
        blocks = self.blocks(min(block_limit, shard_size))
        per = plan.blocks_per_shard
        return [blocks[i:i + per] for i in range(0, len(blocks), per)]

    def block_values(self, block: Block) -> dict[str, np.ndarray]:
        """Input arrays of one block (the fixed axes sliced to length one)."""
        out = {}
        for column, array in self.values.items():
            axis = self.axis_of.get(column)
            if axis is not None and axis < len(block.prefix):
                array = array.take(block.indices(axis), axis=axis)
            elif axis is None and array.ndim == len(self.shape) and len(block.prefix):
                # derived arrays (global_batch from tokens) carry the axes they depend on
                for k in range(len(block.prefix)):
                    if array.shape[k] > 1:
                        array = array.take(block.indices(k), axis=k)
            out[column] = array
        return out

    def block_shape(self, block: Block) -> tuple[int, ...]:
        fixed = tuple(len(block.indices(k)) for k in range(len(block.prefix)))
        return fixed + self.shape[len(block.prefix):]

    def evaluate_block(self, block: Block) -> tuple[dict[str, np.ndarray],
                                                     dict[str, np.ndarray]]:
        """``(values, outputs)`` of a block, all broadcastable to :meth:`block_shape`."""
        values = self.block_values(block)
        arrays = derive(values)
        return model_values(values, arrays), evaluate_numeric(arrays)

    def axis_code(self, block: Block, names: list[str]) -> np.ndarray:
        """Mixed-radix index over the axes ``names`` (broadcasting array; 0 when empty)."""
        shape = self.block_shape(block)
        code = np.zeros([1] * len(shape), dtype=np.int64)
        for name in names:
            k = self.names.index(name)
            offset = block.prefix[k] if k < len(block.prefix) else 0
            index_shape = [1] * len(shape)
            index_shape[k] = shape[k]
            index = (np.arange(shape[k], dtype=np.int64) + offset).reshape(index_shape)
            code = code * self.shape[k] + index
        return code

    def scenario_ids(self, block: Block) -> np.ndarray:
        """``scenario_id`` of every configuration of the block, flat in config_id order."""
        code = self.axis_code(block, self.sweep.scenario)
        return np.ascontiguousarray(np.broadcast_to(code, self.block_shape(block))).ravel()

    def config_ids(self, block: Block) -> np.ndarray:
        return block.start + np.arange(block.size, dtype=np.int64)


def block_table(grid: Grid, block: Block, values: dict[str, np.ndarray],
                outputs: dict[str, np.ndarray], rows: np.ndarray | None = None) -> pl.DataFrame:
    """The rows of a block (or of its flat positions ``rows``) with their keys, every input
    and every output: ``config_id``, ``scenario_id``, then the columns of
    :func:`trainplan.schema.table.assemble`."""
    ids = grid.config_ids(block)
    scenario_id = grid.scenario_ids(block)
    keys = [pl.Series("config_id", ids if rows is None else ids[rows]),
            pl.Series("scenario_id", scenario_id if rows is None else scenario_id[rows])]
    return pl.DataFrame(keys + assemble(values, outputs, grid.block_shape(block), rows))


def key_frame(grid: Grid, block: Block, values: dict, outputs: dict) -> pl.DataFrame:
    """The light columns the reductions need, one row per configuration of the block."""
    shape = grid.block_shape(block)

    def flat(a, dtype=None):
        return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=dtype), shape)).ravel()

    scenario_id = grid.scenario_ids(block)
    model = flat(grid.axis_code(block, ["model"] if "model" in grid.names else []), np.int64)
    strategy = fe.strategy_index(values["dp"], values["tp"], values["pp"], values["cp"],
                                 values["ep"])
    step = flat(outputs["step_time_s"], np.float64)
    cost = flat(outputs["cost_usd"], np.float64)
    return pl.DataFrame({
        "row": np.arange(block.size, dtype=np.int64),
        "config_id": grid.config_ids(block),
        "scenario_id": scenario_id,
        "strategy": flat(strategy, np.int64),
        "tp": flat(values["tp"], np.float64),
        "pp": flat(values["pp"], np.float64),
        "feasible": flat(outputs["feasible"], bool),
        "infeasible_flags": flat(outputs["infeasible_flags"], np.int64),
        "step_time_s": step,
        "memory_total_bytes": flat(outputs["memory_total_bytes"], np.float64),
        "cost_usd": cost,
        "model": model,
        "cost_rate": np.nan_to_num(cost / step, nan=0.0),
    })
