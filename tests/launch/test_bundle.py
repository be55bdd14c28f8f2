"""Launch material for every scenario winner: the folders, the sbatch wrapper, the zip."""

from __future__ import annotations

import io
import zipfile

import pytest

from trainplan.launch.bundle import bundle_zip, main_script, scenario_launch, scenario_launches
from trainplan.launch.config import LaunchConfig
from trainplan.launch.slurm import sbatch_script


def _launch(row, sid=3, label="llama3-70b, 64 x H100"):
    return scenario_launch(row, sid, label, "3D (DP x TP x PP)", "tp=8 pp=4", f"sweep-{sid}")


def test_files_follow_the_framework(llama_row, zero3_row):
    mega = _launch(llama_row)
    assert list(mega.files) == ["megatron.sh", "sbatch.sh", "notes.txt"]
    assert mega.main == "megatron.sh" and mega.folder == "scenario-0003"
    ds = _launch(zero3_row)
    assert ds.main == "deepspeed.sh"
    assert {"deepspeed.sh", "ds_config.json"} <= set(ds.files)
    titan = _launch({**llama_row, "framework": "TorchTitan", "zero_stage": 3})
    assert titan.main == "torchtitan.sh" and "trainplan.toml" in titan.files
    # FSDP2 shards: no DeepSpeed config, and no note telling to launch with DeepSpeed
    assert "ds_config.json" not in titan.files
    assert "deepspeed" not in titan.files["notes.txt"].lower()
    assert main_script(LaunchConfig.from_row(llama_row)) == "megatron.sh"


def test_sbatch_asks_for_the_nodes_and_starts_the_main_script(llama_row, zero3_row):
    text = _launch(llama_row).files["sbatch.sh"]
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "#SBATCH --nodes=8" in lines and "#SBATCH --gpus-per-node=8" in lines
    # every directive comes before the first command, or sbatch ignores it
    first_command = next(i for i, line in enumerate(lines) if line and line[0] != "#")
    assert max(i for i, line in enumerate(lines) if line.startswith("#SBATCH")) < first_command
    # Megatron runs from its checkout; the host list is read whole (no SIGPIPE under pipefail)
    assert lines[-2:] == ['cd "$MEGATRON_LM"',
                          'srun --kill-on-bad-exit=1 bash "$SLURM_SUBMIT_DIR/megatron.sh"']
    assert "head -n" not in text and "awk 'NR==1'" in text
    # the DeepSpeed launcher runs once and reaches the nodes through a hostfile
    ds = _launch(zero3_row).files["sbatch.sh"].splitlines()
    assert ds[-1] == "bash ./deepspeed.sh" and "slots=8" in ds[-2]


def test_a_hostile_label_stays_a_comment(llama_row):
    text = sbatch_script(LaunchConfig.from_row(llama_row), "megatron.sh", "x;rm -rf /\n",
                         "a\nrm -rf /")
    assert "\nrm -rf /" not in text
    assert "#SBATCH --job-name=x_rm_-rf__" in text
    row = {**llama_row, "model": "m\nrm -rf ~"}
    assert all("rm -rf ~" not in line or line.startswith("#")
               for text in _launch(row).files.values() for line in text.splitlines())


def test_a_row_the_launch_refuses_gets_a_note(llama_row):
    bad = _launch({**llama_row, "global_batch": 511.0})
    assert bad.main is None and list(bad.files) == ["notes.txt"]
    assert "global_batch" in bad.files["notes.txt"]


def test_the_zip_is_the_same_bytes_every_time(llama_row, zero3_row):
    launches = [_launch(llama_row, 0), _launch(zero3_row, 12)]
    data = bundle_zip(launches)
    assert data == bundle_zip(launches)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert "launch/README.txt" in names
        assert "launch/scenario-0012/ds_config.json" in names
        info = archive.getinfo("launch/scenario-0000/sbatch.sh")
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert (info.external_attr >> 16) & 0o111
        readme = archive.read("launch/README.txt").decode()
    assert "scenario-0012/  llama3-70b, 64 x H100" in readme


def test_one_folder_per_scenario_winner(llama_row):
    scenarios = [{"scenario_id": 1, "label": "b", "best": {"strategy": "PP", "layout": "pp=2"}},
                 {"scenario_id": 0, "label": "a", "best": {"strategy": "TP", "layout": "tp=8"}},
                 {"scenario_id": 2, "label": "c", "best": None}]     # nothing feasible
    winners = [{**llama_row, "scenario_id": i} for i in (2, 1, 0)]
    out = scenario_launches(winners, scenarios, "s")
    assert [(s.folder, s.label, s.strategy) for s in out] == [
        ("scenario-0000", "a", "TP"), ("scenario-0001", "b", "PP")]


@pytest.mark.parametrize(("zero", "reshard", "tp", "expected"), [
    (0, True, 1, (64, 1, "default")),     # plain DDP: only without other parallelism
    (0, True, 8, (1, 8, "never")),        # TorchTitan refuses DDP with TP: FSDP instead
    (1, True, 8, (1, 8, "never")), (2, True, 8, (1, 8, "never")),
    (3, True, 8, (1, 8, "default")), (3, False, 8, (1, 8, "never"))])
def test_torchtitan_data_parallel_follows_the_zero_stage(llama_row, zero, reshard, tp,
                                                         expected):
    from trainplan.launch.torchtitan import fsdp_layout
    row = {**llama_row, "framework": "TorchTitan", "tp": float(tp), "pp": 1.0,
           "dp": 64.0 / tp, "vpp": 1.0, "zero_stage": zero,
           "zero3_reshard_after_forward": reshard}
    assert fsdp_layout(LaunchConfig.from_row(row)) == expected


def test_a_deepspeed_plan_that_assumes_expandable_segments_sets_them_on_every_node(zero3_row):
    """DeepSpeed's launcher passes only the variables of ``.deepspeed_env`` to remote nodes:
    a plan keeping less than the caching allocator's 10 % free carries the file, and the
    script exports the variable for the local node; the default plan carries neither."""
    lean = _launch({**zero3_row, "memory_reserve_fraction": 0.03})
    assert lean.files[".deepspeed_env"] == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True\n"
    script = lean.files["deepspeed.sh"]
    assert script.index("expandable_segments:True") < script.index("deepspeed ")
    default = _launch(zero3_row)
    assert ".deepspeed_env" not in default.files
    assert "expandable_segments" not in default.files["deepspeed.sh"]
