"""The shard arithmetic: the count the workflow plans equals the shards the grid cuts."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from trainplan.sweep.grid import Block, Grid, ShardPlan


def _blocks(shape, shard_size, block_limit):
    grid = Grid.__new__(Grid)          # the cutting needs only the shape
    grid.shape = tuple(shape)
    return grid.shards(shard_size, block_limit)


@given(shape=st.lists(st.integers(1, 7), min_size=0, max_size=5),
       shard_size=st.integers(1, 400), block_limit=st.integers(1, 400))
def test_the_planned_count_is_the_number_of_shards_cut(shape, shard_size, block_limit):
    plan = ShardPlan.of(tuple(shape), shard_size, block_limit)
    shards = _blocks(shape, shard_size, block_limit)
    assert plan.n_shards == len(shards)
    blocks = [b for shard in shards for b in shard]
    # every configuration in exactly one block, in config_id order
    assert [b.start for b in blocks] == [i * plan.block_size for i in range(len(blocks))]
    assert sum(b.size for b in blocks) == math.prod(shape)
    # no block exceeds the limits unless a single configuration already does
    assert all(b.size <= max(1, min(shard_size, block_limit)) or not shape for b in blocks)


def test_a_block_fixes_the_leading_axes():
    shards = _blocks((2, 3, 4), shard_size=12, block_limit=12)
    assert [s[0] for s in shards] == [Block((0,), 0, 12), Block((1,), 12, 12)]
