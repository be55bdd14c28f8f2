"""Collectives on the real topology: NICs per group, NVL72 domains, pipeline hops.

The all-reduce bus bandwidths are compared with published nccl-tests / NCCL results copied
into ``tests/data/nccl_busbw.csv`` (source and locator of each row kept there). The model is
run with the catalog's hardware and the schema's default efficiencies and latencies; nothing
is fitted to these rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainplan import catalog, evaluate, units
from trainplan.model import collectives as co
from trainplan.model import topology as tp
from trainplan.model.choices import Algorithm
from trainplan.model.config import Links
from trainplan.schema.inputs import INPUT_BY_NAME

# NCCL's algorithms the model has (it has no NVLS / CollNet); NCCL's tuner runs the one its
# own latency-bandwidth model says is fastest, so the model's best of the two stands for it.
NCCL_ALGORITHMS = (Algorithm.RING, Algorithm.TREE)
BUSBW_TABLE = Path(__file__).resolve().parents[1] / "data" / "nccl_busbw.csv"


def _default(name):
    return INPUT_BY_NAME[name].default


def _busbw_cases():
    table = pl.read_csv(BUSBW_TABLE, infer_schema_length=None)
    cases = []
    for row in table.iter_rows(named=True):
        for nodes in str(row["nodes"]).split(";"):
            label = f"{row['catalog_gpu']}-{nodes}nodes-{row['shape_or_size']}-{row['operation']}"
            cases.append(pytest.param(row, int(nodes), id=label))
    return cases


def modelled_allreduce_busbw_gbyte_s(gpu, nodes, domain_gpus, n_bytes, algorithm):
    """nccl-tests bus bandwidth, 2 (g-1)/g n / t, of the model's all-reduce of ``n_bytes``
    over ``nodes`` whole nodes of ``gpu`` (consecutive ranks, domains of ``domain_gpus``)."""
    entry = catalog.gpu(gpu)
    g = nodes * entry["gpus_per_node"]
    members = tp.members_per_domain(g, 1, domain_gpus)
    domains = tp.domains_spanned(g, 1, domain_gpus)
    intra = units.gbyte_s_to_byte_s(entry["scaleup_gbyte_s"]) * _default("scaleup_efficiency")
    nic = (units.gbit_s_to_byte_s(entry["nics_per_node"] * entry["nic_gbit_s"])
           / entry["gpus_per_node"] * _default("scaleout_efficiency"))
    t = co.allreduce_s(algorithm, n_bytes, g, members, domains, intra, nic,
                       _default("scaleup_latency_s"), _default("scaleout_latency_s"))
    return 2.0 * (g - 1) / g * n_bytes / float(t) / 1e9


@pytest.mark.parametrize(("row", "nodes"), _busbw_cases())
def test_allreduce_bus_bandwidth_matches_published_nccl_results(row, nodes):
    """Best of ring and tree within 10 % of each published multi-node all-reduce bus bandwidth
    (B200 over EFA, GB200 NVL72 rack and NVL4/NVL8 partitions over InfiniBand, DGX A100 over
    HDR InfiniBand at any node count from 2 to 64)."""
    busbw = max(modelled_allreduce_busbw_gbyte_s(row["catalog_gpu"], nodes, row["domain_gpus"],
                                                 float(row["size_bytes"]), a)
                for a in NCCL_ALGORITHMS)
    assert busbw == pytest.approx(float(row["value"]), rel=0.10)


def test_a_pure_data_parallel_ring_uses_every_nic_of_the_node():
    """Flat ring over 4 B200 nodes: NIC-bound near the node's 8 NICs (published 362 GB/s),
    not one NIC's 48 GB/s."""
    ring = modelled_allreduce_busbw_gbyte_s("B200", 4, 8, 2.0**30, Algorithm.RING)
    assert ring > 6 * 50.0


@given(st.integers(2, 1024), st.integers(1, 64), st.integers(1, 64),
       st.sampled_from(NCCL_ALGORITHMS), st.floats(1e10, 1e12), st.floats(1e9, 1e11),
       st.floats(0.0, 1e-5), st.floats(1.0, 4.0))
def test_more_members_per_domain_never_lower_the_bus_bandwidth(g, m1, m2, algorithm, intra, nic,
                                                               lat_in, lat_ratio):
    """Packing more of a group into each domain (so onto more NICs) never slows a flat
    ring or tree (latency across domains at least the latency inside)."""
    lo, hi = sorted((min(m1, g), min(m2, g)))
    n = 2.0**30

    def time_s(members):
        return float(co.allreduce_s(algorithm, n, g, members, math.ceil(g / members), intra, nic,
                                    lat_in, lat_in * lat_ratio))

    assert time_s(hi) <= time_s(lo) * (1 + 1e-12)


@given(st.integers(2, 72), st.sampled_from(list(Algorithm)), st.floats(1e8, 1e12))
def test_a_group_inside_one_domain_ignores_the_nics(g, algorithm, nic):
    args = (2.0**28, g, g, 1, 7e11)
    for fn in (co.allreduce_s, co.allgather_s):
        assert fn(algorithm, *args, nic, 3e-6, 6e-6) == fn(algorithm, *args, 1.0, 3e-6, 6e-6)


def _links(domain_gpus, nic_byte_s_per_gpu=5e10):
    f = np.float64
    return Links(domain_gpus=f(domain_gpus), scaleup_byte_s=f(7e11), peer_byte_s=f(5e10),
                 mesh=np.bool_(False), nic_byte_s_per_gpu=f(nic_byte_s_per_gpu),
                 latency_in_s=f(3e-6), latency_out_s=f(6e-6), overlap_efficiency=f(0.7))


@given(st.sampled_from([4, 8, 72]), st.sampled_from([1, 2, 4, 8, 16]), st.integers(2, 64))
def test_groups_running_at_once_share_the_nics_of_their_domain(domain, stride, g):
    """The groups of one dimension partition the GPUs of a domain and run at once: together
    they never get more cross-domain bandwidth than the domain's NICs."""
    links = _links(domain)
    group = tp.place_group(g, stride, links)
    if group.domains <= 1:
        return
    concurrent = domain / group.members   # every GPU of the domain is in one such group
    per_group = tp.flat_bandwidth(group.members, group.domains, 1e15, links.nic_byte_s_per_gpu)
    assert concurrent * per_group <= domain * links.nic_byte_s_per_gpu * (1 + 1e-12)


@given(st.integers(2, 64), st.sampled_from([1, 2, 3, 4, 8, 16, 24, 48, 72, 96]),
       st.sampled_from([2, 4, 8, 72]))
def test_pipeline_hop_leaves_the_domain_exactly_when_some_rank_sends_across(pp, stride, domain):
    """Against an enumeration of the ranks: stage j holds ranks [jS, (j+1)S), rank r sends
    to r + S; a hop is priced on the NIC iff one of those sends changes domain."""
    crosses = any((r // domain) != ((r + stride) // domain)
                  for r in range((pp - 1) * stride))
    links = _links(domain, nic_byte_s_per_gpu=5e10)
    bandwidth, latency = tp.pipeline_hop_bandwidth(pp, stride, links)
    assert float(bandwidth) == (5e10 if crosses else 7e11)
    assert float(latency) == (6e-6 if crosses else 3e-6)


def one(**row):
    return evaluate(pl.DataFrame([row])).row(0, named=True)


def _dp_busbw_gbyte_s(r):
    """Bus bandwidth of the data-parallel all-reduce (zero_stage 0): volume / time."""
    return r["comm_dp_bytes_per_step"] / r["comm_dp_time_s"] / 1e9


def test_pure_data_parallel_gets_the_node_nic_bandwidth_and_tp8_one_nic_per_group():
    """Two DGX A100 nodes: pure DP reaches the 192 GB/s all-reduce bus bandwidth NVIDIA
    measures on 8 x HDR (nccl issue #812); beside TP=8 the 8 DP groups run at once and each
    gets one NIC (a group of one member per node, 1/8 of that)."""
    base = dict(model="llama3-8b", gpu="A100-SXM4-80GB", n_gpus=16, global_batch=16,
                zero_stage=0, recompute="full", seq_len=2048)
    pure = _dp_busbw_gbyte_s(one(**base, tp=1))
    beside_tp8 = _dp_busbw_gbyte_s(one(**base, tp=8))
    assert pure == pytest.approx(192.0, rel=0.10)
    assert beside_tp8 == pytest.approx(192.0 / 8, rel=0.10)


@pytest.mark.parametrize(("gpu", "on_nic"), [("GB200", False), ("H100", True)])
def test_nvl72_keeps_tensor_pipeline_and_data_traffic_on_nvlink(gpu, on_nic):
    """64 GPUs: one NVL72 rack (18 nodes of 4) holds every group, so the NICs do not matter;
    on 8-GPU HGX nodes TP=16, the pipeline and the DP groups cross nodes."""
    base = dict(model="llama3-70b", gpu=gpu, n_gpus=64, tp=16, pp=2, global_batch=64,
                recompute="full")
    fast, slow = one(**base), one(**base, scaleout_gbit_s_per_node=100.0)
    for key in ("comm_tp_time_s", "comm_pp_time_s", "comm_dp_time_s"):
        assert (slow[key] > fast[key] * 1.01) is on_nic, key
