"""An ``sbatch`` wrapper that starts one configuration's launch script on a SLURM cluster.

The wrapper asks for whole nodes (one task per node, every GPU of the node), exports
``MASTER_ADDR`` as the first node of the allocation (the rendezvous host of ``torchrun``)
and starts the launch script once per node with ``srun``. The DeepSpeed launcher is the
exception: it is started once, on the first node, and reaches the other nodes through a
hostfile written from the allocation. Nothing here reads the environment of the machine that
writes the plan: the text depends on the configuration only.
"""

from __future__ import annotations

from trainplan.launch.config import LaunchConfig, printable

DEEPSPEED_SCRIPT = "deepspeed.sh"
"""The launch script that runs once per job (the DeepSpeed launcher), not once per node."""

MEGATRON_SCRIPT = "megatron.sh"
"""The Megatron-LM launch script, run from the Megatron-LM checkout ($MEGATRON_LM)."""


def sbatch_script(c: LaunchConfig, script: str, job_name: str, title: str,
                  expected_days: float | None = None) -> str:
    """The ``sbatch`` file that runs ``script`` (in the same folder) for configuration ``c``.

    Parameters
    ----------
    c : LaunchConfig
        The configuration: its node count and processes per node size the allocation.
    script : str
        File name of the launch script next to the wrapper (``megatron.sh``,
        ``torchtitan.sh`` or ``deepspeed.sh``).
    job_name : str
        SLURM job name; characters other than letters, digits, ``-``, ``_`` and ``.`` become
        ``_``.
    title : str
        What the job is, written as a comment (unprintable characters replaced).
    expected_days : float, optional
        The plan's expected time to train [days], quoted in the comment on ``--time``.

    Returns
    -------
    str
        A bash script with ``#SBATCH`` directives; it expects ``TOKENIZER_MODEL`` and
        ``DATA_PATH`` (and ``MEGATRON_LM`` for Megatron-LM) in the environment and is
        submitted from its own folder.
    """
    safe_job = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in job_name)[:64]
    lines = ["#!/bin/bash",
             f"# {printable(title)}",
             "# Submit from this folder: export TOKENIZER_MODEL=... DATA_PATH=..."
             + (" MEGATRON_LM=..." if script == MEGATRON_SCRIPT else "") + "; sbatch sbatch.sh",
             f"#SBATCH --job-name={safe_job}",
             f"#SBATCH --nodes={c.n_nodes}",
             "#SBATCH --ntasks-per-node=1",
             f"#SBATCH --gpus-per-node={c.procs_per_node}",
             "#SBATCH --exclusive"]
    lines.append("# --time is left to the partition's limit"
                 + (f": the plan expects {expected_days:,.1f} days with failures and restarts, "
                    if expected_days is not None else ": ")
                 + "so resubmit from the latest checkpoint until the run completes")
    lines += ["set -eo pipefail",
              ': "${TOKENIZER_MODEL:?export TOKENIZER_MODEL before sbatch}"',
              ': "${DATA_PATH:?export DATA_PATH before sbatch}"',
              # awk reads every host name: head would close the pipe early and, with
              # pipefail, scontrol's SIGPIPE would end the job on a large allocation
              'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | awk \'NR==1\')"',
              "export MASTER_ADDR TOKENIZER_MODEL DATA_PATH",
              'cd "$SLURM_SUBMIT_DIR"']
    if c.n_gpus % c.gpus_per_node and c.n_nodes > 1:
        lines.append(f"# n_gpus = {c.n_gpus} leaves the last node with "
                     f"{c.n_gpus - (c.n_nodes - 1) * c.gpus_per_node} GPUs: see notes.txt")
    if script == DEEPSPEED_SCRIPT:
        lines += ["# train.py (your DeepSpeed training script) must be in this folder",
                  f'scontrol show hostnames "$SLURM_JOB_NODELIST" '
                  f'| sed "s/$/ slots={c.procs_per_node}/" > hostfile',
                  f"bash ./{script}"]
    elif script == MEGATRON_SCRIPT:
        # pretrain_gpt.py is found relative to the Megatron-LM checkout
        lines += [': "${MEGATRON_LM:?export MEGATRON_LM (the Megatron-LM checkout)}"',
                  'cd "$MEGATRON_LM"',
                  f'srun --kill-on-bad-exit=1 bash "$SLURM_SUBMIT_DIR/{script}"']
    else:
        lines.append(f"srun --kill-on-bad-exit=1 bash ./{script}")
    return "\n".join(lines) + "\n"
