r"""Budget realism: failures, checkpoints and restarts (goodput), and the cost of owning a cluster.

The step model gives a *steady-state* time to train: every second of the job trains. A real
job of :math:`N` GPUs is interrupted by failures at a rate that grows with :math:`N`; it writes
checkpoints to lose at most one interval of work, and each failure costs a restart and the
work since the last checkpoint. With the mean time between failures of the job :math:`M`, the
checkpoint write time :math:`\delta` and the restart time :math:`R`, Young [1]_ and Daly [2]_
give the checkpoint interval that loses the least time, and Daly the expected wall time of
the job; their ratio is the *goodput*

.. math::

   G = \frac{T_{steady}}{T_{wall}}, \quad T_{expected} = \frac{T_{steady}}{G}.

The failure rate defaults to the one Meta observed training Llama 3 405B [3]_ (see
:data:`LLAMA3_FAILURES_PER_GPU_HOUR`).

:func:`budget` adds the cost of owning the cluster (:mod:`trainplan.model.ownership`).

References
----------
.. [1] J. W. Young, "A first order approximation to the optimum checkpoint interval",
   Communications of the ACM 17(9), 530-531, 1974.
.. [2] J. T. Daly, "A higher order estimate of the optimum checkpoint interval for restart
   dumps", Future Generation Computer Systems 22(3), 303-312, 2006.
.. [3] A. Grattafiori et al. (Llama Team, AI @ Meta), "The Llama 3 Herd of Models",
   arXiv:2407.21783, 2024, Sec. 3.3.1 (storage) and 3.3.4 (reliability, Table 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.constants import JOULES_PER_MWH, SECONDS_PER_DAY, SECONDS_PER_HOUR
from trainplan.model.ownership import (
    amortised_capex_usd_per_gpu_hour,
    breakeven_capex_usd,
    facility_power_w,
    network_capex_usd_per_gpu,
    power_cost_usd_per_gpu_hour,
)

# --- published data ------------------------------------------------------------------------------

LLAMA3_UNEXPECTED_INTERRUPTIONS = 419
"""Unexpected job interruptions in Meta's 54-day snapshot of Llama 3 405B pre-training (466
interruptions in all; the other 47 were planned maintenance) [3]_."""

LLAMA3_GPUS = 16_384
"""H100 GPUs of the Llama 3 405B pre-training job [3]_."""

LLAMA3_SNAPSHOT_DAYS = 54
"""Length of the snapshot the interruption count covers [days] [3]_."""

LLAMA3_FAILURES_PER_GPU_HOUR = LLAMA3_UNEXPECTED_INTERRUPTIONS / (
    LLAMA3_GPUS * LLAMA3_SNAPSHOT_DAYS * 24)
"""419 / (16,384 x 54 x 24 GPU-hours) = 1.97e-5 unexpected interruptions per GPU-hour, a mean
time between failures of 50,700 GPU-hours per GPU, or 3.1 h for the 16,384-GPU job. Planned
interruptions are left out: a job checkpoints before them."""

LLAMA3_STORAGE_BYTE_S = 2e12
"""Sustained throughput of the Tectonic file system that takes Llama 3's checkpoints, 2 TB/s
(7 TB/s peak) [3]_."""

LLAMA3_CHECKPOINT_BYTE_S_PER_GPU = LLAMA3_STORAGE_BYTE_S / LLAMA3_GPUS
"""2 TB/s shared by 16,384 GPUs writing at once: 122 MB/s per GPU."""

BYTES_PER_GBYTE = 1e9
"""Bytes per GB (decimal, as storage bandwidths are quoted)."""


# --- failures, checkpoints and restarts -----------------------------------------------------------

def job_mtbf_s(n_gpus: ArrayLike, failures_per_gpu_hour: ArrayLike) -> NDArrayFloat:
    r"""
    Mean time between failures of a job from the failure rate of one GPU.

    Parameters
    ----------
    n_gpus : array_like
        GPUs of the job, :math:`N` [-].
    failures_per_gpu_hour : array_like
        Job interruptions per GPU-hour, :math:`r` [1/GPU-hour] (the inverse of the mean time
        between failures of one GPU with its share of host, network and software).

    Returns
    -------
    numpy.ndarray
        Mean time between failures of the job, :math:`M` [s]; infinite for :math:`r = 0`.

    Notes
    -----
    Failures of the :math:`N` GPUs are independent Poisson processes; any one of them stops
    the synchronous job, so the job fails at :math:`N r` per hour:

    .. math::

       M = \frac{3600}{N\,r}

    References
    ----------
    .. [1] A. Grattafiori et al., "The Llama 3 Herd of Models", arXiv:2407.21783, 2024,
       Sec. 3.3.4: 419 unexpected interruptions in 54 days on 16,384 H100 GPUs, i.e.
       :math:`r = 419 / (16384 \times 54 \times 24) = 1.97 \times 10^{-5}` per GPU-hour.
    """
    rate = as_float(n_gpus) * as_float(failures_per_gpu_hour)
    with np.errstate(divide="ignore"):
        return SECONDS_PER_HOUR / rate


def checkpoint_write_s(checkpoint_bytes_per_gpu: ArrayLike,
                       write_byte_s_per_gpu: ArrayLike) -> NDArrayFloat:
    r"""
    Time to write one checkpoint, every GPU writing its own model states at once.

    Parameters
    ----------
    checkpoint_bytes_per_gpu : array_like
        Model states of the busiest GPU: its 16-bit weights and its (ZeRO-sharded) optimizer
        states, :math:`S` [bytes].
    write_byte_s_per_gpu : array_like
        Storage write bandwidth per GPU while all write, :math:`b` [byte/s].

    Returns
    -------
    numpy.ndarray
        Checkpoint write time, :math:`\delta` [s] (the job waits for it).

    Notes
    -----
    .. math::

       \delta = \frac{S}{b}

    An upper bound for data-parallel layouts: every rank is taken to write its replica of
    the weights, where a framework that writes each replicated tensor once writes less.

    References
    ----------
    .. [1] A. Grattafiori et al., "The Llama 3 Herd of Models", arXiv:2407.21783, 2024,
       Sec. 3.3.1: each GPU saves its model state (1 MB to 4 GB per GPU) to a file system
       that sustains 2 TB/s for 16,384 GPUs.
    """
    return as_float(checkpoint_bytes_per_gpu) / as_float(write_byte_s_per_gpu)


def checkpoint_interval_young_daly_s(checkpoint_s: ArrayLike, mtbf_s: ArrayLike) -> NDArrayFloat:
    r"""
    Checkpoint interval that loses the least time to checkpoints and failures (Young, Daly).

    Parameters
    ----------
    checkpoint_s : array_like
        Checkpoint write time, :math:`\delta` [s].
    mtbf_s : array_like
        Mean time between failures of the job, :math:`M` [s].

    Returns
    -------
    numpy.ndarray
        Compute time between two checkpoints, :math:`\tau` [s]; infinite for
        :math:`M = \infty`.

    Notes
    -----
    Young's first-order optimum [1]_ with Daly's correction for the time spent writing [2]_:

    .. math::

       \tau = \sqrt{2\,\delta\,M} - \delta \quad (\delta < 2M), \qquad
       \tau = M \quad (\delta \ge 2M)

    References
    ----------
    .. [1] J. W. Young, "A first order approximation to the optimum checkpoint interval",
       Communications of the ACM 17(9), 530-531, 1974.
    .. [2] J. T. Daly, "A higher order estimate of the optimum checkpoint interval for
       restart dumps", Future Generation Computer Systems 22(3), 303-312, 2006 (the
       first-order estimate and the rule for :math:`\delta \ge 2M`).
    """
    delta, m = as_float(checkpoint_s), as_float(mtbf_s)
    return np.where(delta < 2.0 * m, np.sqrt(2.0 * delta * m) - delta, m)


def goodput_daly2006(interval_s: ArrayLike, checkpoint_s: ArrayLike, restart_s: ArrayLike,
                     mtbf_s: ArrayLike) -> NDArrayFloat:
    r"""
    Share of the wall time that trains, with checkpoints, failures and restarts (Daly 2006).

    Parameters
    ----------
    interval_s : array_like
        Compute time between two checkpoints, :math:`\tau` [s].
    checkpoint_s : array_like
        Checkpoint write time, :math:`\delta` [s].
    restart_s : array_like
        Time from a failure to training again (detection, rescheduling, initialisation and
        reading the checkpoint), :math:`R` [s].
    mtbf_s : array_like
        Mean time between failures of the job, :math:`M` [s].

    Returns
    -------
    numpy.ndarray
        Goodput :math:`G = T_s / T_w` in (0, 1] [-]; 1 without failures and with an infinite
        interval, :math:`\tau / (\tau + \delta)` without failures.

    Notes
    -----
    With failures as a Poisson process of mean :math:`M`, a job of :math:`T_s` seconds of
    computation split into intervals of :math:`\tau` takes on average [1]_

    .. math::

       T_w = M\,e^{R/M} \left(e^{(\tau + \delta)/M} - 1\right) \frac{T_s}{\tau}, \qquad
       G = \frac{T_s}{T_w} = \frac{\tau}{M\,e^{R/M} \left(e^{(\tau + \delta)/M} - 1\right)}

    which tends to :math:`\tau / (\tau + \delta)` as :math:`M \to \infty`.

    References
    ----------
    .. [1] J. T. Daly, "A higher order estimate of the optimum checkpoint interval for
       restart dumps", Future Generation Computer Systems 22(3), 303-312, 2006 (the
       expected wall time of a job with failures, restarts and checkpoints).
    """
    tau, delta, r, m = (as_float(v) for v in (interval_s, checkpoint_s, restart_s, mtbf_s))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        failing = m * np.exp(r / m) * np.expm1((tau + delta) / m)
        wall_per_interval = np.where(np.isinf(m), tau + delta, failing)
        return np.where(np.isinf(tau) & np.isinf(m), 1.0, tau / wall_per_interval)


def expected_wall_time_s(steady_state_s: ArrayLike, goodput: ArrayLike) -> NDArrayFloat:
    r"""
    Expected wall time of a job from its steady-state time and its goodput.

    Parameters
    ----------
    steady_state_s : array_like
        Time to train without failures or checkpoints, :math:`T_s` [s].
    goodput : array_like
        Share of the wall time that trains, :math:`G` [-].

    Returns
    -------
    numpy.ndarray
        Expected wall time, :math:`T_w` [s].

    Notes
    -----
    .. math::

       T_w = \frac{T_s}{G}

    References
    ----------
    .. [1] J. T. Daly, "A higher order estimate of the optimum checkpoint interval for
       restart dumps", Future Generation Computer Systems 22(3), 303-312, 2006 (the
       expected wall time of a job with failures, restarts and checkpoints).
    """
    return as_float(steady_state_s) / as_float(goodput)


# --- the budget of one configuration --------------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """Expected time and cost with failures and checkpoints, and the cost of owning."""

    job_mtbf_h: NDArrayFloat
    checkpoint_write_s: NDArrayFloat
    checkpoint_interval_s: NDArrayFloat
    goodput: NDArrayFloat
    expected_time_to_train_days: NDArrayFloat
    expected_gpu_hours: NDArrayFloat
    expected_cost_usd: NDArrayFloat
    facility_energy_mwh: NDArrayFloat
    power_usd_per_gpu_hour: NDArrayFloat
    owned_usd_per_gpu_hour: NDArrayFloat
    expected_owned_cost_usd: NDArrayFloat
    network_capex_usd_per_gpu: NDArrayFloat
    breakeven_capex_usd_per_gpu: NDArrayFloat


def budget(steady_days: ArrayLike, n_gpus: ArrayLike, checkpoint_bytes_per_gpu: ArrayLike,
           g: dict) -> Budget:
    r"""
    Expected time, GPU-hours and cost of a job with failures and checkpoints, and its TCO.

    Parameters
    ----------
    steady_days : array_like
        Steady-state time to train, :math:`T_s` [days].
    n_gpus : array_like
        GPUs of the job, :math:`N` [-].
    checkpoint_bytes_per_gpu : array_like
        Weights and optimizer states of the busiest GPU [bytes].
    g : dict
        The model inputs (``failures_per_gpu_hour`` [1/GPU-hour],
        ``checkpoint_write_gbyte_s_per_gpu`` [GB/s], ``restart_s`` [s], ``tdp_w`` [W],
        ``host_power_fraction`` [-], ``pue`` [-], ``electricity_usd_per_kwh`` [USD/kWh],
        ``capex_usd_per_gpu`` [USD], ``network_usd_per_gbit_s`` [USD/(Gb/s)] with
        ``scaleout_gbit_s_per_gpu`` [Gb/s], ``amortisation_years``
        [years] and
        ``price_per_gpu_hour_usd`` [USD/GPU-hour]).

    Returns
    -------
    Budget

    Notes
    -----
    :func:`job_mtbf_s`, :func:`checkpoint_write_s`, :func:`checkpoint_interval_young_daly_s`
    and :func:`goodput_daly2006` give :math:`G`; then

    .. math::

       T_w = T_s / G, \quad \text{GPU-hours} = N\,T_w, \quad
       E = N\,P\,T_w, \quad \text{cost} = \text{GPU-hours} \times c

    with the facility power :math:`P` of :func:`facility_power_w` and the rental or owned
    price :math:`c`.

    References
    ----------
    .. [1] J. T. Daly, "A higher order estimate of the optimum checkpoint interval for
       restart dumps", Future Generation Computer Systems 22(3), 303-312, 2006.
    """
    n = as_float(n_gpus)
    mtbf = job_mtbf_s(n, g["failures_per_gpu_hour"])
    delta = checkpoint_write_s(checkpoint_bytes_per_gpu,
                               as_float(g["checkpoint_write_gbyte_s_per_gpu"]) * BYTES_PER_GBYTE)
    tau = checkpoint_interval_young_daly_s(delta, mtbf)
    good = goodput_daly2006(tau, delta, g["restart_s"], mtbf)
    wall_s = expected_wall_time_s(as_float(steady_days) * SECONDS_PER_DAY, good)
    gpu_hours = n * wall_s / SECONDS_PER_HOUR
    power = facility_power_w(g["tdp_w"], g["host_power_fraction"], g["pue"])
    power_usd = power_cost_usd_per_gpu_hour(power, g["electricity_usd_per_kwh"])
    network = network_capex_usd_per_gpu(g["scaleout_gbit_s_per_gpu"],
                                        g["network_usd_per_gbit_s"])
    owned = amortised_capex_usd_per_gpu_hour(as_float(g["capex_usd_per_gpu"]) + network,
                                             g["amortisation_years"]) + power_usd
    return Budget(
        job_mtbf_h=mtbf / SECONDS_PER_HOUR, checkpoint_write_s=delta, checkpoint_interval_s=tau,
        goodput=good, expected_time_to_train_days=wall_s / SECONDS_PER_DAY,
        expected_gpu_hours=gpu_hours,
        expected_cost_usd=gpu_hours * as_float(g["price_per_gpu_hour_usd"]),
        facility_energy_mwh=n * power * wall_s / JOULES_PER_MWH,
        power_usd_per_gpu_hour=power_usd, owned_usd_per_gpu_hour=owned,
        expected_owned_cost_usd=gpu_hours * owned,
        network_capex_usd_per_gpu=network,
        breakeven_capex_usd_per_gpu=breakeven_capex_usd(
            g["price_per_gpu_hour_usd"], power_usd, g["amortisation_years"]) - network,
    )
