"""Unit conversions, the only place where bits, bytes, GB and GiB meet.

Every quantity in trainplan carries its unit in its name (``_bytes``, ``_s``,
``_flop``, ``_gbit_s``, ``_gbyte_s``, ``_gib``). Conversions between them go
through the functions here, so a bandwidth in bits can never be divided into a
volume in bytes by accident (the defect of the notebook this project replaced).

Decimal prefixes (SI): 1 GB = 1e9 bytes, 1 Gb/s = 1e9 bit/s, 1 TFLOP/s = 1e12
FLOP/s. Binary prefixes (IEC): 1 GiB = 2**30 bytes. GPU memory capacities are
binary (an "80GB" A100 reports 81920 MiB = 80 GiB in nvidia-smi); network and
interconnect bandwidths are decimal.
"""

from __future__ import annotations

import numpy as np

BITS_PER_BYTE = 8
GIGA = 1e9
TERA = 1e12
GIB_BYTES = 2**30
MIB_BYTES = 2**20
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
JOULES_PER_KWH = 3.6e6


def gbit_s_to_byte_s(gbit_s):
    """Bandwidth [Gbit/s] (decimal) to [byte/s]."""
    return np.asarray(gbit_s, dtype=np.float64) * (GIGA / BITS_PER_BYTE)


def gbyte_s_to_byte_s(gbyte_s):
    """Bandwidth [GB/s] (decimal) to [byte/s]."""
    return np.asarray(gbyte_s, dtype=np.float64) * GIGA


def byte_s_to_gbit_s(byte_s):
    """Bandwidth [byte/s] to [Gbit/s] (decimal)."""
    return np.asarray(byte_s, dtype=np.float64) * (BITS_PER_BYTE / GIGA)


def gib_to_bytes(gib):
    """Capacity [GiB] (2**30 bytes) to [bytes]."""
    return np.asarray(gib, dtype=np.float64) * GIB_BYTES


def bytes_to_gib(n_bytes):
    """Capacity [bytes] to [GiB] (2**30 bytes)."""
    return np.asarray(n_bytes, dtype=np.float64) / GIB_BYTES


def bytes_to_gb(n_bytes):
    """Capacity [bytes] to [GB] (1e9 bytes)."""
    return np.asarray(n_bytes, dtype=np.float64) / GIGA


def gb_to_bytes(gb):
    """Capacity [GB] (1e9 bytes) to [bytes]."""
    return np.asarray(gb, dtype=np.float64) * GIGA


def tflop_s_to_flop_s(tflop_s):
    """Throughput [TFLOP/s] to [FLOP/s]."""
    return np.asarray(tflop_s, dtype=np.float64) * TERA


def flop_s_to_tflop_s(flop_s):
    """Throughput [FLOP/s] to [TFLOP/s]."""
    return np.asarray(flop_s, dtype=np.float64) / TERA
