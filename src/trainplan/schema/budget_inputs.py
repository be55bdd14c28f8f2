"""Inputs of the budget: failures, checkpoints and restarts, and the cost of owning the cluster.

They do not change the step time; :mod:`trainplan.model.goodput` turns it into the expected
time, GPU-hours and cost of the whole run.
"""

from __future__ import annotations

from trainplan.model.goodput import LLAMA3_CHECKPOINT_BYTE_S_PER_GPU, LLAMA3_FAILURES_PER_GPU_HOUR
from trainplan.schema.input_spec import BUDGET as _BUD
from trainplan.schema.input_spec import Input

BUDGET_INPUTS: tuple[Input, ...] = (
    Input("failures_per_gpu_hour", "float", "Job interruptions per GPU-hour (one GPU with its "
          "share of host, network and software); the job fails n_gpus times as often",
          unit="1/GPU-hour", minimum=0, default=round(LLAMA3_FAILURES_PER_GPU_HOUR, 9),
          group=_BUD, source="Llama 3 (arXiv:2407.21783) Sec. 3.3.4: 419 unexpected "
          "interruptions in a 54-day snapshot on 16,384 H100 GPUs: 419 / (16,384 x 54 x 24 "
          "GPU-hours) = 1.97e-5 (a failure every 3.1 h for the whole job); the 47 planned "
          "interruptions are left out"),
    Input("checkpoint_write_gbyte_s_per_gpu", "float", "Storage write bandwidth per GPU while "
          "every GPU writes its weights and optimizer states", unit="GB/s", minimum=0,
          default=LLAMA3_CHECKPOINT_BYTE_S_PER_GPU / 1e9, group=_BUD,
          source="Llama 3 (arXiv:2407.21783) Sec. 3.3.1: the checkpoint file system sustains "
          "2 TB/s for 16,384 GPUs (0.122 GB/s per GPU); each GPU saves 1 MB to 4 GB"),
    Input("restart_s", "float", "Time from a failure to training again: detection, "
          "rescheduling, initialisation and reading the last checkpoint", unit="s", minimum=0,
          default=600.0, group=_BUD,
          source="assumption (10 minutes); Llama 3 Sec. 3.3.4 reports the automation that "
          "keeps effective training time above 90 % but no restart time"),
    Input("host_power_fraction", "float", "Power of a GPU's share of the host and network "
          "(CPUs, memory, NICs, NVSwitches, fans) as a fraction of the GPU's board power",
          minimum=0, default=0.8, group=_BUD,
          source="NVIDIA DGX datasheets, maximum system power: DGX H100 10.2 kW for 8 x 700 W "
          "GPUs (0.82), DGX B200 14.3 kW for 8 x 1000 W (0.79)"),
    Input("pue", "float", "Power usage effectiveness of the data centre (facility power / IT "
          "power)", minimum=1, default=1.58, group=_BUD,
          source="Uptime Institute Global Data Center Survey 2023: average PUE 1.58 "
          "(hyperscale facilities report about 1.1)"),
    Input("electricity_usd_per_kwh", "float", "Electricity price", unit="USD/kWh", minimum=0,
          default=0.08, group=_BUD,
          source="US EIA Electric Power Monthly: average price to industrial customers, "
          "2023, about 8 cents/kWh"),
    Input("capex_usd_per_gpu", "float", "Purchase price per GPU of its share of the servers and "
          "storage (the scale-out network is priced by network_usd_per_gbit_s); not set: the "
          "report gives the break-even price instead",
          unit="USD", minimum=0, default=float("nan"), group=_BUD),
    Input("network_usd_per_gbit_s", "float", "Purchase price of one Gb/s of a node's scale-out "
          "bandwidth: its NICs, optics, cables and share of a non-blocking fat tree",
          unit="USD/(Gb/s)", minimum=0, default=10.0, group=_BUD,
          source="estimate from a 1,024-GPU InfiniBand NDR fat tree (128 nodes x 3,200 Gb/s): "
          "switches $0.55-0.75 M and optics $1.2-1.6 M (yobitel.com knowledge base, "
          "'InfiniBand NDR', 2026) plus 1,024 ConnectX-7 NICs at about $2,000 (assumption): "
          "about $4 M for 409.6 Tb/s, $10 per Gb/s; networking is about 20 % of the cost of "
          "the clusters reviewed by amcompute.com ('GPU Cluster Networking 101')"),
    Input("amortisation_years", "float", "Life over which a bought cluster is paid off "
          "(straight line, in use every hour)", unit="years", minimum=0, default=5.0,
          group=_BUD, source="assumption; server lives in hyperscaler filings are 5-6 years "
          "(Amazon 5, Microsoft and Alphabet 6); GPUs may be replaced sooner"),
)
