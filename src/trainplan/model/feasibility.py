"""Why a configuration cannot run, as bit flags, and the strategy label of the degrees.

Infeasible configurations are kept and labelled, never dropped: every flag
has a sentence that the tables and reports print.
"""

from __future__ import annotations

import numpy as np

DEGREES = 1
LAYERS = 2
HEADS = 4
BATCH = 8
SCHEDULE = 16
CONTEXT = 32
ZERO_PIPELINE = 64
MEMORY = 128
PRECISION = 256
NO_TIME = 512

REASONS = {
    DEGREES: "tp*pp*cp does not divide n_gpus (dp must be a whole number)",
    LAYERS: "n_layers not divisible by pp*vpp",
    HEADS: "heads, kv heads or ffn width not divisible by tp",
    BATCH: "global_batch not divisible by dp*micro_batch",
    SCHEDULE: "interleaved schedule needs pp>1, vpp>1 and micro-batches divisible by pp "
              "(vpp>1 needs the interleaved schedule)",
    CONTEXT: "seq_len not divisible by 2*cp",
    ZERO_PIPELINE: "ZeRO stage 2/3 cannot be combined with pipeline parallelism",
    MEMORY: "does not fit in GPU memory",
    PRECISION: "the GPU does not support this precision",
    NO_TIME: "no finite step time (a bandwidth or efficiency of zero)",
}


def _divides(a, b):
    """True where ``a`` divides ``b`` exactly (both positive)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    q = b / a
    return np.floor(q) == q


def structural_flags(n_gpus, tp, pp, dp, cp, vpp, micro_batch, global_batch, n_layers, n_heads,
                     n_kv_heads, ffn_hidden, seq_len, zero_stage, schedule):
    """Bit flags for the constraints that do not depend on memory (int64 array)."""
    tp, pp, dp, cp, vpp = (np.asarray(x, dtype=np.float64) for x in (tp, pp, dp, cp, vpp))
    whole_dp = (dp >= 1) & (np.floor(dp) == dp)
    flags = np.where((tp * pp * dp * cp != np.asarray(n_gpus, dtype=np.float64)) | ~whole_dp,
                     DEGREES, 0)
    flags = flags | np.where(_divides(pp * vpp, n_layers), 0, LAYERS)
    heads_ok = _divides(tp, n_heads) & _divides(tp, n_kv_heads) & _divides(tp, ffn_hidden)
    flags = flags | np.where(heads_ok, 0, HEADS)
    flags = flags | np.where(_divides(dp * np.asarray(micro_batch, np.float64), global_batch),
                             0, BATCH)
    m = np.asarray(global_batch, np.float64) / (dp * np.asarray(micro_batch, np.float64))
    interleaved = np.asarray(schedule) == 2
    bad_schedule = np.where(interleaved, (vpp < 2) | (pp < 2) | ~_divides(pp, m), vpp > 1)
    flags = flags | np.where(bad_schedule, SCHEDULE, 0)
    flags = flags | np.where((cp > 1) & ~_divides(2.0 * cp, seq_len), CONTEXT, 0)
    flags = flags | np.where((np.asarray(zero_stage) >= 2) & (pp > 1), ZERO_PIPELINE, 0)
    return flags.astype(np.int64)


def reason_text(flags) -> np.ndarray:
    """Sentences for each flag value (``""`` for a feasible configuration), as an object array."""
    flags = np.asarray(flags, dtype=np.int64)
    uniques, inverse = np.unique(flags, return_inverse=True)
    texts = np.array(
        ["; ".join(text for bit, text in REASONS.items() if int(u) & bit) for u in uniques],
        dtype=object,
    )
    return texts[inverse].reshape(flags.shape)


STRATEGIES = ("single GPU", "DP", "TP", "PP", "2D (DP x TP)", "2D (DP x PP)", "2D (TP x PP)",
              "3D (DP x TP x PP)")


def strategy_code(dp, tp, pp):
    """Index into :data:`STRATEGIES` derived from the degrees (context parallelism counts
    with data parallelism for the label)."""
    d = (np.asarray(dp) > 1).astype(np.int64)
    t = (np.asarray(tp) > 1).astype(np.int64)
    p = (np.asarray(pp) > 1).astype(np.int64)
    key = d * 4 + t * 2 + p
    # key: 0 none, 1 pp, 2 tp, 3 tp+pp, 4 dp, 5 dp+pp, 6 dp+tp, 7 all
    lookup = np.array([0, 3, 2, 6, 1, 5, 4, 7], dtype=np.int64)
    return lookup[key]


STRATEGY_LABELS = (*STRATEGIES, *(s + " + CP" for s in STRATEGIES))
"""Every strategy label; :func:`strategy_index` indexes into it."""


def strategy_index(dp, tp, pp, cp=1) -> np.ndarray:
    """Index into :data:`STRATEGY_LABELS` of the degrees' strategy (context parallelism counts
    with data parallelism for the shape and adds " + CP")."""
    cp = np.asarray(cp, dtype=np.float64)
    return strategy_code(np.asarray(dp) * cp, tp, pp) + len(STRATEGIES) * (cp > 1)


def strategy_label(dp, tp, pp, cp=1) -> np.ndarray:
    """Strategy names (DP, TP, PP, 2D, 3D ...) derived from the parallel degrees."""
    return np.array(STRATEGY_LABELS, dtype=object)[strategy_index(dp, tp, pp, cp)]
