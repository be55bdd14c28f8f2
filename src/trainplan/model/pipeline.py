"""Pipeline-parallel schedules: bubble and the micro-batches each stage holds.

``schedule`` codes: 0 = GPipe [1], 1 = 1F1B (PipeDream-Flush) [2],
2 = interleaved 1F1B with ``v`` model chunks per GPU [3].

References
----------
.. [1] Y. Huang et al., "GPipe", arXiv:1811.06965: all ``m`` forward passes,
   then all backward passes; bubble ``(p-1)/(m+p-1)`` of the step.
.. [2] D. Narayanan et al., "Memory-Efficient Pipeline-Parallel DNN
   Training" (PipeDream-2BW/Flush), arXiv:2006.09503; the first stage holds at
   most ``p`` micro-batches in flight.
.. [3] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2.2: the bubble
   shrinks to ``(p-1)/(v m)`` of the ideal time; Korthikanti et al.,
   arXiv:2205.05198, Sec. 4.2.3: the first stage's activation memory grows by
   ``1 + (p-1)/(p v)``.
"""

from __future__ import annotations

import numpy as np

GPIPE, ONE_F_ONE_B, INTERLEAVED = 0, 1, 2
SCHEDULE_NAMES = {"gpipe": GPIPE, "1f1b": ONE_F_ONE_B, "interleaved": INTERLEAVED}


def _f(x):
    return np.asarray(x, dtype=np.float64)


def bubble_time_ratio(pp, n_microbatches, vpp):
    """Pipeline bubble relative to the ideal (bubble-free) time: ``(p-1)/(v m)`` [1] [3]."""
    return (_f(pp) - 1.0) / (_f(vpp) * _f(n_microbatches))


def bubble_fraction(pp, n_microbatches, vpp):
    """Share of the pipelined time spent idle: ``(p-1)/(v m + p - 1)`` [1] [3]."""
    p, m, v = _f(pp), _f(n_microbatches), _f(vpp)
    return (p - 1.0) / (v * m + p - 1.0)


def pipeline_efficiency(pp, n_microbatches, vpp):
    """``1 - bubble_fraction = v m / (v m + p - 1)`` [1] (not ``(m/p)/(m+p-1)``)."""
    return 1.0 - bubble_fraction(pp, n_microbatches, vpp)


def inflight_microbatches_first_stage(schedule, pp, n_microbatches, vpp):
    """Micro-batches whose activations the first stage holds at its peak [1].

    Counted in units of "one micro-batch through the whole stage" (``L/p``
    layers): GPipe ``m`` [1]; 1F1B ``min(p, m)`` [2]; interleaved
    ``min(p + (p-1)/v, m)``, i.e. ``L (1 + (p-1)/(p v))`` layers' worth [3].
    With ``p = 1`` there is no pipeline and one micro-batch is held at a time.
    """
    sch = np.asarray(schedule)
    p, m, v = _f(pp), _f(n_microbatches), _f(vpp)
    one_f_one_b = np.minimum(p, m)
    interleaved = np.minimum(p + (p - 1.0) / v, m)
    held = np.where(sch == GPIPE, m, np.where(sch == INTERLEAVED, interleaved, one_f_one_b))
    # without a pipeline, micro-batches are plain gradient accumulation: one at a time
    return np.where(p > 1, held, np.minimum(m, 1.0))


def inflight_microbatches_last_stage(schedule, pp, n_microbatches, vpp):
    """Micro-batches the last stage holds at its peak [1].

    GPipe ``m``; 1F1B one (it runs each backward right after its forward);
    interleaved ``((v-1) p + 1)/v`` (its warm-up of ``(v-1) p`` chunks plus one).
    """
    sch = np.asarray(schedule)
    p, m, v = _f(pp), _f(n_microbatches), _f(vpp)
    interleaved = np.minimum(((v - 1.0) * p + 1.0) / v, m)
    last = np.where(sch == GPIPE, m, np.where(sch == INTERLEAVED, interleaved, 1.0))
    return np.where(p > 1, last, inflight_microbatches_first_stage(schedule, pp,
                                                                   n_microbatches, vpp))
