"""Each shard records what it wrote; combine refuses a shard that does not match, and removes
its files so that a rerun re-makes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TEST_SWEEPS

from trainplan.sweep import combine, shard


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shard")
    shard.run_shard(TEST_SWEEPS / "tiny.yaml", 0, out / "shards" / "00000.parquet",
                    out / "points" / "shard=00000")
    return out


@pytest.fixture
def work(written, tmp_path) -> Path:
    """A fresh copy of the shard's files, with the points/ path of its record moved along."""
    shutil.copytree(written, tmp_path / "w")
    counts = tmp_path / "w" / "shards" / "00000.json"
    record = json.loads(counts.read_text())
    record["points_dir"] = str(tmp_path / "w" / "points" / "shard=00000")
    counts.write_text(json.dumps(record))
    return tmp_path / "w"


def run_combine(work: Path) -> None:
    combine.combine_dir([work / "shards" / "00000.parquet"], work / "out")


def test_counts_record_rows_and_checksum_of_what_the_shard_wrote(written):
    record = json.loads((written / "shards" / "00000.json").read_text())
    summary = record["summary"]
    assert summary["rows"] > 0 and len(summary["sha256"]) == 64
    assert record["points"] == {"part-00000.parquet": 1944}
    assert record["points_dir"].endswith("points/shard=00000")


def test_a_matching_shard_combines(work):
    run_combine(work)
    assert json.loads((work / "out" / "counts.json").read_text())["configurations"] == 1944


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(("damage", "message"), [
    (lambda w: truncate(w / "shards" / "00000.parquet"), "SHA-256 differs"),
    (lambda w: truncate(w / "points" / "shard=00000" / "part-00000.parquet"),
     "not a readable Parquet file"),
    (lambda w: (w / "points" / "shard=00000" / "part-00000.parquet").unlink(), "holds []"),
    (lambda w: (w / "shards" / "00000.json").write_text("{"), "unreadable"),
])
def test_a_damaged_shard_is_one_error_naming_it_and_its_files_are_removed(work, damage,
                                                                         message):
    damage(work)
    with pytest.raises(combine.ShardError) as info:
        run_combine(work)
    text = str(info.value)
    assert "\n" not in text and text.startswith("shard 00000: ") and message in text
    assert not list((work / "shards").iterdir())
    assert not (work / "out").exists()


def test_a_part_with_other_rows_is_named(work, tmp_path):
    record = json.loads((work / "shards" / "00000.json").read_text())
    record["points"]["part-00000.parquet"] = 5
    (work / "shards" / "00000.json").write_text(json.dumps(record))
    with pytest.raises(combine.ShardError, match="has 1944 rows, its counts record 5"):
        run_combine(work)


def test_one_counts_file_per_summary(work):
    with pytest.raises(combine.ShardError, match="1 shard summaries but 0 counts files"):
        combine.combine([work / "shards" / "00000.parquet"], [], {})
