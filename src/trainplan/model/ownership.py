r"""The cost of owning a cluster: facility power, electricity and amortised purchase price.

Owning the cluster instead of renting it costs the facility's electricity (GPU board power,
the host's share and the cooling overhead, PUE [1]_) and the purchase price amortised over
the cluster's life [2]_; :func:`breakeven_capex_usd` gives the purchase price below which
buying is the cheaper way to get the same GPU-hours.

References
----------
.. [1] The Green Grid, "PUE: a comprehensive examination of the metric", White Paper 49, 2012.
.. [2] IAS 16 "Property, Plant and Equipment", para. 62 (straight-line depreciation).
"""

from __future__ import annotations

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float

HOURS_PER_YEAR = 365.25 * 24
"""Hours in one (Julian) year, for amortisation over years."""

WATT_HOURS_PER_KWH = 1000.0


def facility_power_w(tdp_w: ArrayLike, host_power_fraction: ArrayLike,
                     pue: ArrayLike) -> NDArrayFloat:
    r"""
    Power one GPU draws from the grid: its board, its share of the host and network, cooling.

    Parameters
    ----------
    tdp_w : array_like
        Board power of the GPU, :math:`P_{GPU}` [W].
    host_power_fraction : array_like
        Power of the GPU's share of the host (CPUs, memory, NICs, fans, NVSwitches) and
        network as a fraction of its board power, :math:`f` [-].
    pue : array_like
        Power usage effectiveness of the data centre (facility / IT power), :math:`PUE` [-].

    Returns
    -------
    numpy.ndarray
        Facility power per GPU [W] (all at their maximum: an upper bound).

    Notes
    -----
    .. math::

       P = P_{GPU}\,(1 + f)\,PUE

    References
    ----------
    .. [1] The Green Grid, "PUE: a comprehensive examination of the metric", White Paper 49,
       2012 (PUE = total facility power / IT equipment power).
    .. [2] NVIDIA DGX H100 datasheet: about 10.2 kW maximum for 8 x 700 W GPUs, so
       :math:`f = (10.2 - 5.6) / 5.6 = 0.82`.
    """
    return as_float(tdp_w) * (1.0 + as_float(host_power_fraction)) * as_float(pue)


def power_cost_usd_per_gpu_hour(power_w: ArrayLike, usd_per_kwh: ArrayLike) -> NDArrayFloat:
    r"""
    Electricity cost of one GPU-hour at a facility power.

    Parameters
    ----------
    power_w : array_like
        Facility power per GPU, :math:`P` [W].
    usd_per_kwh : array_like
        Electricity price, :math:`c_e` [USD/kWh].

    Returns
    -------
    numpy.ndarray
        Electricity per GPU-hour [USD/GPU-hour].

    Notes
    -----
    .. math::

       c_{power} = \frac{P}{1000}\,c_e

    References
    ----------
    .. [1] US Energy Information Administration, Electric Power Monthly, Table 5.6.A
       (average price of electricity to ultimate customers, by sector) [USD/kWh].
    """
    return as_float(power_w) / WATT_HOURS_PER_KWH * as_float(usd_per_kwh)


def amortised_capex_usd_per_gpu_hour(capex_usd_per_gpu: ArrayLike,
                                     life_years: ArrayLike) -> NDArrayFloat:
    r"""
    Purchase price of one GPU spread evenly over the hours of its life.

    Parameters
    ----------
    capex_usd_per_gpu : array_like
        All-in purchase price per GPU (its share of servers, network and storage),
        :math:`C` [USD].
    life_years : array_like
        Amortisation life, :math:`L` [years].

    Returns
    -------
    numpy.ndarray
        Capital cost of one GPU-hour [USD/GPU-hour], assuming the cluster is in use for every
        hour of its life (straight-line, no cost of capital or resale value).

    Notes
    -----
    .. math::

       c_{capex} = \frac{C}{8766\,L}

    References
    ----------
    .. [1] IAS 16 "Property, Plant and Equipment", para. 62: the straight-line method of
       depreciation (a constant charge over the useful life).
    """
    return as_float(capex_usd_per_gpu) / (as_float(life_years) * HOURS_PER_YEAR)


def breakeven_capex_usd(rent_usd_per_gpu_hour: ArrayLike, power_usd_per_gpu_hour: ArrayLike,
                        life_years: ArrayLike) -> NDArrayFloat:
    r"""
    Purchase price per GPU below which owning is cheaper than renting over the same hours.

    Parameters
    ----------
    rent_usd_per_gpu_hour : array_like
        Rental price of one GPU-hour, :math:`c_{rent}` [USD/GPU-hour].
    power_usd_per_gpu_hour : array_like
        Electricity of one owned GPU-hour, :math:`c_{power}` [USD/GPU-hour].
    life_years : array_like
        Amortisation life, :math:`L` [years].

    Returns
    -------
    numpy.ndarray
        Break-even all-in purchase price per GPU [USD] (negative: the electricity alone
        costs more than the rent), for a cluster in use every hour of its life.

    Notes
    -----
    Setting the owned cost :math:`c_{capex} + c_{power}` equal to the rent:

    .. math::

       C^{*} = (c_{rent} - c_{power})\,8766\,L

    References
    ----------
    .. [1] IAS 16 "Property, Plant and Equipment", para. 62 (straight-line depreciation).
    """
    return ((as_float(rent_usd_per_gpu_hour) - as_float(power_usd_per_gpu_hour))
            * as_float(life_years) * HOURS_PER_YEAR)


def network_capex_usd_per_gpu(scaleout_gbit_s_per_gpu: ArrayLike,
                              usd_per_gbit_s: ArrayLike) -> NDArrayFloat:
    r"""
    Purchase price of one GPU's share of the scale-out network.

    Parameters
    ----------
    scaleout_gbit_s_per_gpu : array_like
        A node's scale-out bandwidth (all its NICs, one direction) divided by its GPUs,
        :math:`b = B / g` [Gb/s].
    usd_per_gbit_s : array_like
        Price of one Gb/s of a node's scale-out bandwidth with its NICs, optics, cables and
        share of a non-blocking fat tree, :math:`p` [USD/(Gb/s)].

    Returns
    -------
    numpy.ndarray
        Network capital cost per GPU [USD].

    Notes
    -----
    .. math::

       C_{net} = b\,p

    The price scales with the bandwidth bought: twice the NICs need twice the optics and
    switch ports of a fat tree of the same depth.

    References
    ----------
    .. [1] NVIDIA DGX SuperPOD reference architecture (DGX H100): a rail-optimised,
       non-blocking InfiniBand fat tree with one 400 Gb/s NDR port per GPU, so the switch
       ports and optics grow in proportion to the nodes' scale-out bandwidth.
    """
    return as_float(scaleout_gbit_s_per_gpu) * as_float(usd_per_gbit_s)
