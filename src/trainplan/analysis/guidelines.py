"""Scaling guidelines: which strategy wins per GPU-count band, how throughput per GPU holds
up as the cluster grows, and how each strategy of the reference scenario is built."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from trainplan.analysis.recommend import other_columns
from trainplan.analysis.summary import GIB, layout_text, summary_of, whole

BANDS = ((1, 8, "1-8 GPUs (one node)"), (9, 64, "9-64 GPUs"), (65, 512, "65-512 GPUs"),
         (513, 4096, "513-4,096 GPUs"), (4097, 10**9, "more than 4,096 GPUs"))
"""GPU-count bands of the scaling guidelines: (lowest, highest, label), bounds included."""

NOTES = {
    "DP": "Replicate the model, split the batch. Needs the whole model state per GPU unless "
          "ZeRO shards it; gradient reduction per step grows with the parameter count.",
    "TP": "Split every layer's matrices across GPUs; two collectives per layer in forward and "
          "backward, so keep the group inside one NVLink/NVSwitch domain.",
    "PP": "Split the layers into stages; costs a pipeline bubble of (p-1)/(v m) of the ideal "
          "(bubble-free) time, reduced by more micro-batches or virtual stages (interleaving).",
    "2D (DP x TP)": "Tensor parallelism inside a node, data parallelism across nodes.",
    "2D (DP x PP)": "Pipeline stages hold slices of the model; replicas of the pipeline split "
                    "the batch.",
    "2D (TP x PP)": "Model parallelism only: every GPU holds a slice of the model.",
    "3D (DP x TP x PP)": "Tensor parallelism inside nodes, pipeline stages across nodes, data "
                         "parallel replicas of the whole pipeline (Megatron-LM PTD-P).",
    "single GPU": "No parallelism.",
}
"""How each strategy is built (without its ``+ CP`` / ``+ EP`` suffix)."""

EP_NOTE = ("Expert parallelism splits each layer's routed experts over ep of the data-parallel "
           "ranks; every MoE layer sends each token to the GPUs of its experts and back "
           "(an all-to-all), so the group is best kept inside one NVLink domain, with "
           "pipeline stages across nodes.")
"""How expert parallelism is built (added to the note of a ``+ EP`` strategy)."""


def _most_common(band: pl.DataFrame, column: str) -> pl.DataFrame:
    """Values of ``column`` with their counts, most frequent first (ties by value)."""
    return band.group_by(column).len().sort(["len", column], descending=[True, False])


def series_columns(columns: Sequence[str]) -> list[str]:
    """The columns that make a scaling series: ``model``, ``gpu`` and every scenario column
    but the GPU count, so that no series pools two models, GPU types or networks."""
    return ["model", "gpu", *(c for c in columns if c not in ("model", "gpu", "n_gpus"))]


def series_label(row: dict, columns: Sequence[str]) -> str:
    """``llama3-70b on H100-SXM5-80GB`` and every other scenario column but the GPU count."""
    return ", ".join([f"{row['model']} on {row['gpu']}", *other_columns(row, list(columns))])


def _series(best: pl.DataFrame, columns: Sequence[str]):
    """(label, winners) of every series of the scenario winners with two or more GPU counts,
    in order of their first scenario. A series with one GPU count says nothing about
    scaling."""
    winners = best.filter(pl.col("rank_in_scenario") == 1)
    keys = [c for c in series_columns(columns) if c in winners.columns]
    ordered = winners.sort(["scenario_id", "config_id"])
    for _, group in ordered.group_by(keys, maintain_order=True):
        if group["n_gpus"].n_unique() >= 2:
            yield series_label(group.row(0, named=True), columns), group


def scaling_guidelines(best: pl.DataFrame, columns: Sequence[str] = ()) -> list[dict]:
    """Per scaling series and GPU-count band of :data:`BANDS`: which strategy wins, its
    layouts, MFU and bottleneck.

    A series is one model on one GPU type with every other scenario column fixed
    (:func:`series_columns`); only series with two or more GPU counts are kept, so no band
    pools different models, GPUs or networks and no claim reaches past the counts the sweep
    covers. Counts the scenario winners (``rank_in_scenario == 1``) of the series in each
    band; the strategy and the bottleneck are the most frequent ones (ties broken
    alphabetically), ``tp`` and ``pp`` the sorted distinct degrees, ``mfu_min``/``mfu_max``
    the range, ``gpus_min``/``gpus_max`` the GPU counts the band holds. Empty bands are left
    out.
    """
    out = []
    for label, winners in _series(best, columns):
        for low, high, band_label in BANDS:
            band = winners.filter((pl.col("n_gpus") >= low) & (pl.col("n_gpus") <= high))
            if band.height == 0:
                continue
            counts = _most_common(band, "strategy")
            top, wins = counts["strategy"][0], int(counts["len"][0])
            tp = sorted({whole(x) for x in band["tp"]})
            pp = sorted({whole(x) for x in band["pp"]})
            bottleneck = _most_common(band, "bottleneck")["bottleneck"][0]
            n_min, n_max = whole(band["n_gpus"].min()), whole(band["n_gpus"].max())
            covered = f"{n_min:,}" if n_min == n_max else f"{n_min:,}-{n_max:,}"
            out.append({
                "series": label, "band": band_label, "scenarios": band.height,
                "gpus_min": n_min, "gpus_max": n_max,
                "strategy": top, "wins": wins, "tp": tp, "pp": pp,
                "mfu_min": float(band["mfu"].min()), "mfu_max": float(band["mfu"].max()),
                "bottleneck": bottleneck,
                "text": (f"{label}, {covered} GPUs: {top} wins {wins} of {band.height} "
                         f"scenarios; tp {', '.join(map(str, tp))}; "
                         f"pp {', '.join(map(str, pp))}; "
                         f"MFU {band['mfu'].min() * 100:.0f}-{band['mfu'].max() * 100:.0f} %; "
                         f"mostly bound by {bottleneck}."),
            })
    return out


_RECOMPUTE_COST = {"none": 0, "selective": 1, "full": 2}
"""Recomputation from least to most extra work."""


def _why_above(base: dict, r: dict) -> str:
    """Why the layout at ``r`` uses each GPU better than the one at the smallest count
    ``base`` did: the differences in recomputation, pipeline bubble, tensor degree and
    exposed communication that favour ``r``, as a phrase (empty when none applies)."""
    reasons = []
    if _RECOMPUTE_COST.get(r["recompute"], 0) < _RECOMPUTE_COST.get(base["recompute"], 0):
        reasons.append(f"recomputation {r['recompute']} instead of {base['recompute']}")
    if float(r["bubble_fraction"]) < float(base["bubble_fraction"]) - 1e-3:
        reasons.append(f"pipeline bubble {float(r['bubble_fraction']) * 100:.1f} % instead "
                       f"of {float(base['bubble_fraction']) * 100:.1f} %")
    if whole(r["tp"]) < whole(base["tp"]):
        reasons.append(f"tp {whole(r['tp'])} instead of {whole(base['tp'])}")
    if whole(r["micro_batch"]) > whole(base["micro_batch"]):
        reasons.append(f"micro-batch {whole(r['micro_batch'])} instead of "
                       f"{whole(base['micro_batch'])}")
    return "; ".join(reasons)


def scaling_efficiency(best: pl.DataFrame, columns: Sequence[str] = ()) -> list[dict]:
    r"""Weak-scaling efficiency of the plan, per scaling series (:func:`series_columns`).

    For each GPU count :math:`N` of a series the fastest winner's throughput :math:`T_N`
    [tokens/s] is taken, and its rate per GPU is compared with that of the smallest count
    :math:`N_0`:

    .. math::

       e_N = \frac{T_N / N}{T_{N_0} / N_0}

    :math:`e_N > 1` happens when the larger cluster leaves each GPU a smaller share of the
    model states, so that its best layout recomputes less, has a smaller pipeline bubble or a
    smaller tensor degree; ``why`` names which. Series with one GPU count are left out.

    Returns one dict per (series, GPU count), in series order and by count, with ``series``,
    ``model``, ``gpu``, ``n_gpus``, ``tokens_per_s``, ``efficiency`` (1.0 at the smallest
    count), the winner's ``strategy`` and ``layout``, and ``why`` (empty unless
    ``efficiency > 1``).
    """
    out = []
    for label, group in _series(best, columns):
        top = group.sort(["n_gpus", "tokens_per_s", "config_id"],
                         descending=[False, True, False]).unique("n_gpus", keep="first",
                                                                 maintain_order=True)
        base = top.row(0, named=True)
        base_rate = float(base["tokens_per_s"]) / float(base["n_gpus"])
        for r in top.iter_rows(named=True):
            eff = float(r["tokens_per_s"]) / float(r["n_gpus"]) / base_rate
            out.append({"series": label, "model": r["model"], "gpu": r["gpu"],
                        "n_gpus": whole(r["n_gpus"]), "tokens_per_s": float(r["tokens_per_s"]),
                        "efficiency": eff, "strategy": r["strategy"],
                        "layout": layout_text(r),
                        "why": _why_above(base, r) if eff > 1.0 + 1e-9 else ""})
    return out


def _specifics(r: dict) -> list[str]:
    """What this configuration's tp, pp, ZeRO, dp and cp cost, one phrase per dimension."""
    specifics = []
    tp = whole(r["tp"])
    if tp > 1:
        specifics.append(f"TP={tp} moves {float(r['comm_tp_bytes_per_step']) / 1e9:.1f} GB "
                         f"per GPU per step, {float(r['tp_exposed_s']):.3g} s of it exposed")
    if whole(r["pp"]) > 1:
        specifics.append(f"PP={whole(r['pp'])} with {whole(r['n_microbatches'])} micro-batches"
                         f" and vpp={whole(r['vpp'])}: bubble "
                         f"{float(r['bubble_fraction']) * 100:.1f} % of the pipeline; its "
                         f"point-to-point activations move "
                         f"{float(r['comm_pp_bytes_per_step']) / 1e9:.1f} GB per GPU per step, "
                         f"{float(r['pp_exposed_s']):.3g} s of it exposed")
    if whole(r["zero_stage"]) > 0:
        specifics.append(f"ZeRO-{whole(r['zero_stage'])}: optimizer states "
                         f"{float(r['memory_optimizer_bytes']) / GIB:.1f} GiB per GPU")
    if whole(r["dp"]) > 1:
        specifics.append(f"DP={whole(r['dp'])} exposes {float(r['dp_exposed_s']):.3g} s of "
                         "gradient/parameter communication per step")
    if whole(r["cp"]) > 1:
        specifics.append(f"CP={whole(r['cp'])} splits each sequence of {whole(r['seq_len'])} "
                         "tokens")
    ep = whole(r.get("ep", 1) or 1)
    if ep > 1:
        specifics.append(_expert_phrase(r, ep))
    return specifics


def _expert_phrase(r: dict, ep: int) -> str:
    """What expert parallelism holds and moves, and whether its group leaves the domain."""
    span = ep * whole(r.get("etp", 1) or 1)
    domain = whole(r["scaleup_domain_gpus"])
    where = (f"inside one {domain}-GPU NVLink domain" if span <= domain else
             f"across {-(-span // domain)} NVLink domains of {domain} GPUs, over the NICs")
    experts = whole(r.get("n_experts") or 0)
    held = f"{experts // ep} of {experts} experts per GPU, " if experts else ""
    return (f"EP={ep} ({held}{where}): the token all-to-all moves "
            f"{float(r['comm_ep_bytes_per_step']) / 1e9:.1f} GB per GPU per step, "
            f"{float(r['ep_exposed_s']):.3g} s of it exposed")


def implementation_notes(rows: pl.DataFrame) -> list[dict]:
    """Per strategy of ``rows``: how it is built (:data:`NOTES`), with this scenario's numbers
    (communication, bubble, optimizer memory), whether it is feasible and why not."""
    out = []
    for r in rows.iter_rows(named=True):
        s = summary_of(r)
        specifics = _specifics(r)
        base = r["strategy"].replace(" + CP", "").replace(" + EP", "")
        note = NOTES.get(base, "") + (" " + EP_NOTE if r["strategy"].endswith(" + EP") else "")
        out.append({"strategy": r["strategy"], "note": note.strip(),
                    "specifics": "; ".join(specifics) + "." if specifics else "",
                    "feasible": s["feasible"], "reason": s["reason"]})
    return out
