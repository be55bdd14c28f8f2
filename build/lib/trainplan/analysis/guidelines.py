"""Scaling guidelines: which strategy wins per GPU-count band, how throughput per GPU holds
up as the cluster grows, and how each strategy of the reference scenario is built."""

from __future__ import annotations

import polars as pl

from trainplan.analysis.summary import GIB, summary_of, whole

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
"""How each strategy is built (without its ``+ CP`` suffix)."""


def _most_common(band: pl.DataFrame, column: str) -> pl.DataFrame:
    """Values of ``column`` with their counts, most frequent first (ties by value)."""
    return band.group_by(column).len().sort(["len", column], descending=[True, False])


def scaling_guidelines(best: pl.DataFrame) -> list[dict]:
    """Per GPU-count band of :data:`BANDS`: which strategy wins, its layouts, MFU and
    bottleneck.

    Counts the scenario winners (``rank_in_scenario == 1``) in each band; the strategy and
    the bottleneck are the most frequent ones (ties broken alphabetically), ``tp`` and ``pp``
    the sorted distinct degrees, ``mfu_min``/``mfu_max`` the range. Empty bands are left out.
    """
    winners = best.filter(pl.col("rank_in_scenario") == 1)
    out = []
    for low, high, label in BANDS:
        band = winners.filter((pl.col("n_gpus") >= low) & (pl.col("n_gpus") <= high))
        if band.height == 0:
            continue
        counts = _most_common(band, "strategy")
        top, wins = counts["strategy"][0], int(counts["len"][0])
        tp = sorted({whole(x) for x in band["tp"]})
        pp = sorted({whole(x) for x in band["pp"]})
        bottleneck = _most_common(band, "bottleneck")["bottleneck"][0]
        out.append({
            "band": label,
            "scenarios": band.height,
            "strategy": top,
            "wins": wins,
            "tp": tp, "pp": pp,
            "mfu_min": float(band["mfu"].min()), "mfu_max": float(band["mfu"].max()),
            "bottleneck": bottleneck,
            "text": (f"{top} wins {wins} of {band.height} scenarios; "
                     f"tp {', '.join(map(str, tp))}; pp {', '.join(map(str, pp))}; "
                     f"MFU {band['mfu'].min() * 100:.0f}-{band['mfu'].max() * 100:.0f} %; "
                     f"mostly bound by {bottleneck}."),
        })
    return out


def scaling_efficiency(best: pl.DataFrame) -> list[dict]:
    r"""Weak-scaling efficiency of the plan, per model and GPU type.

    For each GPU count :math:`N` the best winning throughput :math:`T_N` [tokens/s] is taken,
    and its rate per GPU is compared with that of the smallest count :math:`N_0`:

    .. math::

       e_N = \frac{T_N / N}{T_{N_0} / N_0}

    Returns one dict per (model, GPU type, GPU count), by model, GPU type and count, with
    ``tokens_per_s`` and ``efficiency`` (1.0 at the smallest count).
    """
    winners = best.filter(pl.col("rank_in_scenario") == 1)
    out = []
    ordered = winners.sort(["model", "gpu", "n_gpus", "config_id"])
    for (model, gpu), group in ordered.group_by(["model", "gpu"], maintain_order=True):
        by_n = group.group_by("n_gpus", maintain_order=True).agg(
            pl.col("tokens_per_s").max())
        base = by_n.row(0, named=True)
        base_rate = base["tokens_per_s"] / base["n_gpus"]
        for r in by_n.iter_rows(named=True):
            out.append({"model": model, "gpu": gpu, "n_gpus": whole(r["n_gpus"]),
                        "tokens_per_s": r["tokens_per_s"],
                        "efficiency": r["tokens_per_s"] / r["n_gpus"] / base_rate})
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
                         f"{float(r['bubble_fraction']) * 100:.1f} % of the pipeline")
    if whole(r["zero_stage"]) > 0:
        specifics.append(f"ZeRO-{whole(r['zero_stage'])}: optimizer states "
                         f"{float(r['memory_optimizer_bytes']) / GIB:.1f} GiB per GPU")
    if whole(r["dp"]) > 1:
        specifics.append(f"DP={whole(r['dp'])} exposes {float(r['dp_exposed_s']):.3g} s of "
                         "gradient/parameter communication per step")
    if whole(r["cp"]) > 1:
        specifics.append(f"CP={whole(r['cp'])} splits each sequence of {whole(r['seq_len'])} "
                         "tokens")
    return specifics


def implementation_notes(rows: pl.DataFrame) -> list[dict]:
    """Per strategy of ``rows``: how it is built (:data:`NOTES`), with this scenario's numbers
    (communication, bubble, optimizer memory), whether it is feasible and why not."""
    out = []
    for r in rows.iter_rows(named=True):
        s = summary_of(r)
        specifics = _specifics(r)
        out.append({"strategy": r["strategy"],
                    "note": NOTES.get(r["strategy"].replace(" + CP", ""), ""),
                    "specifics": "; ".join(specifics) + "." if specifics else "",
                    "feasible": s["feasible"], "reason": s["reason"]})
    return out
