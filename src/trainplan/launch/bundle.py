"""Launch material for every scenario's best layout, as files and as one reproducible zip.

Each scenario winner gets a folder ``launch/scenario-NNNN/`` (``NNNN`` its
``scenario_id``) holding:

``megatron.sh``
    the Megatron-LM ``torchrun`` command (always);
``deepspeed.sh``, ``ds_config.json``
    the DeepSpeed launcher and config (ZeRO stages 2 and 3, unless Megatron-FSDP shards),
    and ``.deepspeed_env`` where the memory plan assumes expandable segments;
``torchtitan.sh``, ``trainplan.toml``
    the TorchTitan launcher and job config (framework TorchTitan);
``sbatch.sh``
    the SLURM wrapper that starts the main script of the configuration's framework
    (:func:`main_script`);
``notes.txt``
    what the model assumed that no flag can say.

``launch/README.txt`` lists the folders with their scenario and layout. The zip has fixed
timestamps and sorted entries, so the same scenarios give the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trainplan.launch import launch_material
from trainplan.launch.config import LaunchConfig, printable
from trainplan.launch.deepspeed import DS_CONFIG_FILE, DS_ENV_FILE
from trainplan.launch.slurm import DEEPSPEED_SCRIPT, sbatch_script
from trainplan.launch.torchtitan import TOML_FILE
from trainplan.schema.inputs import InputError

ZIP_ROOT = "launch"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Timestamp of every zip entry (the earliest a zip can hold): the bytes never depend on
when the report was written."""


@dataclass(frozen=True)
class ScenarioLaunch:
    """The launch files of one scenario's best layout."""

    scenario_id: int
    label: str
    strategy: str
    layout: str
    main: str | None
    """File name of the script ``sbatch.sh`` starts; None when no material could be made."""
    files: dict[str, str]
    """File name -> text, in the order the report shows them."""

    @property
    def folder(self) -> str:
        """``scenario-0007``: the folder of the files inside the zip."""
        return f"scenario-{self.scenario_id:04d}"


def main_script(config: LaunchConfig) -> str:
    """The script a job runs: TorchTitan's for framework TorchTitan, the DeepSpeed launcher
    for ZeRO stages 2 and 3 (not under Megatron-Core / NeMo, where Megatron-FSDP shards),
    Megatron-LM's otherwise."""
    if (config.framework or "").lower() == "torchtitan":
        return "torchtitan.sh"
    return DEEPSPEED_SCRIPT if config.uses_deepspeed else "megatron.sh"


def _script(command: str) -> str:
    """A bash script around ``command`` (stop at the first failure)."""
    return "#!/bin/bash\nset -eo pipefail\n" + command


def scenario_launch(row: Mapping[str, Any], scenario_id: int, label: str, strategy: str,
                    layout: str, job_name: str) -> ScenarioLaunch:
    """The launch files of one scenario winner ``row`` (a row of ``best.parquet``).

    A row the launch material refuses (:class:`trainplan.InputError`, e.g. a batch Megatron
    would refuse) gets only ``notes.txt`` saying why.
    """
    try:
        config = LaunchConfig.from_row(row)
        material = launch_material(config)
    except InputError as err:
        return ScenarioLaunch(scenario_id, printable(label), strategy, layout, None,
                              {"notes.txt": f"No launch material: {printable(str(err))}\n"})
    files = {"megatron.sh": _script(material["torchrun"])}
    if material["deepspeed"]:
        files[DEEPSPEED_SCRIPT] = _script(material["deepspeed"])
        files[DS_CONFIG_FILE] = material["deepspeed_config"]
        if material["deepspeed_env"]:
            files[DS_ENV_FILE] = material["deepspeed_env"]
    if material["torchtitan"]:
        files["torchtitan.sh"] = _script(material["torchtitan"])
        files[TOML_FILE] = material["torchtitan_toml"]
    main = main_script(config)
    expected = row.get("expected_time_to_train_days")
    expected = float(expected) if isinstance(expected, int | float) and expected == expected \
        and expected != float("inf") else None
    files["sbatch.sh"] = sbatch_script(config, main, job_name,
                                       f"{label}: {strategy}, {layout}", expected)
    files["notes.txt"] = "".join(f"- {n}\n" for n in material["notes"])
    return ScenarioLaunch(scenario_id, printable(label), strategy, layout, main, files)


def readme(launches: Iterable[ScenarioLaunch]) -> str:
    """``README.txt``: one paragraph per folder (scenario, layout, the script to submit)."""
    lines = ["Launch material for the best layout of every scenario of this plan.",
             "In each folder: export TOKENIZER_MODEL and DATA_PATH, then sbatch sbatch.sh",
             "(or run the main script on every node with MASTER_ADDR set).", ""]
    for s in launches:
        lines += [f"{s.folder}/  {s.label}",
                  f"    {printable(s.strategy)}: {printable(s.layout)}",
                  f"    main script: {s.main or 'none (see notes.txt)'}", ""]
    return "\n".join(lines)


def bundle_zip(launches: list[ScenarioLaunch]) -> bytes:
    """Every scenario's files, and ``README.txt``, as zip bytes under ``launch/``.

    Entries are sorted by name and stamped :data:`ZIP_TIME`; shell scripts are executable.
    """
    entries = {f"{ZIP_ROOT}/README.txt": readme(launches)}
    for s in launches:
        for name, text in s.files.items():
            entries[f"{ZIP_ROOT}/{s.folder}/{name}"] = text
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            info.create_system = 3        # unix, so that the mode above is read
            archive.writestr(info, entries[name].encode("utf-8"))
    return buffer.getvalue()


def scenario_launches(winners: Iterable[Mapping[str, Any]], scenarios: Iterable[Mapping],
                      sweep_name: str) -> list[ScenarioLaunch]:
    """The launch files of every scenario winner, by scenario id.

    Parameters
    ----------
    winners : iterable of mappings
        The rows of ``best.parquet`` with ``rank_in_scenario == 1``.
    scenarios : iterable of mappings
        ``analysis["scenarios"]``: ``scenario_id``, ``label`` and ``best`` (``strategy``,
        ``layout``) of each scenario.
    sweep_name : str
        The sweep's name, in each job's name.
    """
    by_id = {int(s["scenario_id"]): s for s in scenarios if s.get("best")}
    out = []
    for row in sorted(winners, key=lambda r: int(r["scenario_id"])):
        sid = int(row["scenario_id"])
        entry = by_id.get(sid)
        if entry is None:
            continue
        out.append(scenario_launch(row, sid, str(entry["label"]), entry["best"]["strategy"],
                                   entry["best"]["layout"], f"{sweep_name}-{sid}"))
    return out
