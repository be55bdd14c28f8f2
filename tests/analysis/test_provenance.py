"""Provenance of analysis.json: trainplan version and commit, the sweep file's hash and the
date of each GPU price; the same inputs give the same entry wherever they are evaluated."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
from conftest import TEST_SWEEPS

from trainplan import __version__
from trainplan.analysis import provenance as prov
from trainplan.sweep.file import load_sweep

TINY = TEST_SWEEPS / "tiny.yaml"


def test_the_sweep_hash_is_the_sha256_of_its_bytes(tmp_path):
    entry = prov.provenance(load_sweep(TINY))
    assert entry["sweep_file"] == "tiny.yaml"
    assert entry["sweep_sha256"] == hashlib.sha256(TINY.read_bytes()).hexdigest()
    edited = tmp_path / "tiny.yaml"
    edited.write_text(TINY.read_text() + "# a comment changes the file, not the grid\n")
    assert prov.provenance(load_sweep(edited))["sweep_sha256"] != entry["sweep_sha256"]


def test_the_same_sweep_in_another_folder_gives_the_same_provenance(tmp_path):
    copy = tmp_path / "elsewhere" / "tiny.yaml"
    copy.parent.mkdir()
    shutil.copy(TINY, copy)
    here, there = prov.provenance(load_sweep(TINY)), prov.provenance(load_sweep(copy))
    assert json.dumps(here, sort_keys=True) == json.dumps(there, sort_keys=True)
    assert here["trainplan_version"] == __version__


def test_commit_of_the_checkout_or_unknown(tmp_path):
    assert prov.git_commit(tmp_path) == prov.UNKNOWN            # not a checkout
    if not (prov.CHECKOUT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("trainplan does not run from a git checkout here")
    head = subprocess.run(["git", "-C", str(prov.CHECKOUT), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert prov.git_commit() == head


@pytest.mark.parametrize("source, date", [
    ("signwl GPU market pulse, week of 2026-04-06: B200 blended $7.52/h", "2026-04-06"),
    ("Mercatus 'Cloud GPU pricing 2026' (May 2026): A100 80GB $1.10-1.50/h", "May 2026"),
    ("a price without a date", None),
    (None, None),
])
def test_price_date_from_the_catalog_source(source, date):
    assert prov.price_date(source) == date


def test_prices_say_whether_the_sweep_or_the_catalog_sets_them(tmp_path):
    assert prov.prices(load_sweep(TINY)) == [
        {"gpu": "A100-SXM4-80GB", "origin": "sweep", "usd_per_gpu_hour": [2.0],
         "source": None, "date": None}]
    sweep = tmp_path / "two_gpus.yaml"
    sweep.write_text(TINY.read_text().replace("gpu: A100-SXM4-80GB", "gpu: [H100, B200]")
                     .replace("  price_per_gpu_hour_usd: 2.0\n", ""))
    found = {p["gpu"]: p for p in prov.prices(load_sweep(sweep))}
    assert sorted(found) == ["B200", "H100-SXM5-80GB"]
    assert found["H100-SXM5-80GB"]["origin"] == "catalog"
    assert found["H100-SXM5-80GB"]["date"] == "May 2026"
    assert found["B200"]["date"] == "2026-04-06"
    assert found["B200"]["usd_per_gpu_hour"] == [7.52]
