"""Every command's misuse ends in ONE ``trainplan: error:`` line naming the file, a non-zero
exit, no traceback and nothing written: bad arguments, missing, unreadable or corrupt inputs,
and outputs that cannot be written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_SWEEPS

from trainplan.cli import main


@pytest.fixture(scope="module")
def stage(tmp_path_factory) -> dict[str, str]:
    """Valid files of every stage for the tiny sweep (one shard, combined, analysed)."""
    d = tmp_path_factory.mktemp("stage")
    sweep = d / "tiny.yaml"
    shutil.copy(TEST_SWEEPS / "tiny.yaml", sweep)
    p = {"sweep": sweep, "s0": d / "s0.parquet", "c0": d / "s0.json",
         "best": d / "best.parquet", "tp_pp": d / "tp_pp.parquet",
         "pareto": d / "pareto.parquet", "counts": d / "counts.json",
         "analysis": d / "reports" / "tiny" / "analysis.json",
         "manifest": d / "figures.json", "validation": d / "validation.json"}
    p["analysis"].parent.mkdir(parents=True)
    assert main(["shard", str(sweep), "--shard", "0", "--summary", str(p["s0"]),
                 "--counts", str(p["c0"])]) == 0
    assert main(["combine", str(p["s0"]), "--counts", str(p["c0"]), "--best", str(p["best"]),
                 "--tp-pp", str(p["tp_pp"]), "--pareto", str(p["pareto"]),
                 "--counts-out", str(p["counts"])]) == 0
    assert main(["analyse", str(sweep), "--best", str(p["best"]), "--counts", str(p["counts"]),
                 "--out", str(p["analysis"])]) == 0
    p["manifest"].write_text("[]\n")
    p["validation"].write_text('{"rows": [], "summary": {}}\n')
    return {k: str(v) for k, v in p.items()}


@pytest.fixture
def paths(stage, tmp_path) -> dict[str, str]:
    """The good files plus one broken file of each kind, an empty output folder ``o`` and
    ``nowhere``, an output in a folder that does not exist (like ``/nonexistent/dir/x``)."""
    p = dict(stage, tmp=str(tmp_path), o=str(tmp_path / "o"),
             nowhere=str(tmp_path / "nonexistent" / "dir" / "x"))
    (tmp_path / "o").mkdir()
    (tmp_path / "adir.parquet").mkdir()
    (tmp_path / "outdir").mkdir()
    data = Path(stage["best"]).read_bytes()
    (tmp_path / "trunc.parquet").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.parquet").write_text("row_id,tp\nx,1\n")
    (tmp_path / "bad.json").write_text('{"configurations": ')
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00\x81 binary")
    (tmp_path / "list.json").write_text("[1, 2]\n")
    (tmp_path / "keys.json").write_text('{"name": "x"}\n')
    (tmp_path / "bad.yaml").write_text("parallel: [1\n")
    (tmp_path / "bin.yaml").write_bytes(b"title: \xff\xfe\x00\n")
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "c.txt").write_text("model,gpu\n")
    (tmp_path / "bin.csv").write_bytes(b"\x00\xff\xfe\x81\x00garbage\x00")
    # a folder the process cannot write to: /sys refuses even root, who ignores file modes
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    p["ro"] = "/sys" if os.geteuid() == 0 else str(readonly)
    p["outside"] = str(tmp_path / "analysis.json")
    shutil.copy(stage["analysis"], p["outside"])
    return p


SHARD = "shard {sweep} --shard 0 --summary {o}/s.parquet --counts {o}/s.json"
COMBINE = ("combine {s0} --counts {c0} --best {o}/b.parquet --tp-pp {o}/t.parquet "
           "--pareto {o}/p.parquet --counts-out {o}/c.json")
ANALYSE = "analyse {sweep} --best {best} --counts {counts} --out {o}/a.json"
FIGURES = ("figures --best {best} --tp-pp {tp_pp} --pareto {pareto} --analysis {analysis} "
           "--out-dir {o}/figures --manifest {o}/f.json")
REPORT = ("report --analysis {analysis} --figures {manifest} --validation {validation} "
          "--html {o}/r.html --pdf {o}/r.pdf")
VTABLE = "validation-table --out {o}/v.parquet --text {o}/v.txt --json {o}/v.json"

# (id, command line, the path the error must name); {o}/... outputs must stay unwritten
CASES = [
    ("evaluate-missing", "evaluate {tmp}/missing.csv --out {o}/x.parquet", "{tmp}/missing.csv"),
    ("evaluate-directory", "evaluate {tmp}/adir.parquet --out {o}/x.parquet",
     "{tmp}/adir.parquet"),
    ("evaluate-truncated-parquet", "evaluate {tmp}/trunc.parquet --out {o}/x.parquet",
     "{tmp}/trunc.parquet"),
    ("evaluate-text-as-parquet", "evaluate {tmp}/text.parquet --out {o}/x.parquet",
     "{tmp}/text.parquet"),
    ("evaluate-binary-csv", "evaluate {tmp}/bin.csv --out {o}/x.parquet", "{tmp}/bin.csv"),
    ("evaluate-unsupported-type", "evaluate {tmp}/c.txt --out {o}/x.parquet", "{tmp}/c.txt"),
    ("evaluate-out-nowhere", "evaluate {best} --out {nowhere}", "{nowhere}"),
    ("evaluate-out-is-directory", "evaluate {best} --out {tmp}/outdir", "{tmp}/outdir"),
    ("evaluate-out-readonly", "evaluate {best} --out {ro}/x.parquet", "{ro}/x.parquet"),
    ("validate-missing", "validate {tmp}/missing.csv --out {o}/v.txt", "{tmp}/missing.csv"),
    ("validate-directory", "validate {tmp}/adir.parquet", "{tmp}/adir.parquet"),
    ("validate-binary", "validate {tmp}/bin.csv --out {o}/v.txt", "{tmp}/bin.csv"),
    ("validate-out-nowhere", "validate --out {nowhere}", "{nowhere}"),
    ("validate-out-readonly", "validate --out {ro}/v.csv", "{ro}/v.csv"),
    ("check-missing", "check {tmp}/missing.yaml", "{tmp}/missing.yaml"),
    ("check-directory", "check {tmp}/adir.parquet", "{tmp}/adir.parquet"),
    ("check-bad-sweep", "check {tmp}/bad.yaml", "{tmp}/bad.yaml"),
    ("check-binary-sweep", "check {tmp}/bin.yaml", "{tmp}/bin.yaml"),
    ("shard-bad-sweep", SHARD.replace("{sweep}", "{tmp}/bad.yaml"), "{tmp}/bad.yaml"),
    ("shard-out-of-range", SHARD.replace("--shard 0", "--shard 7"), "{sweep}"),
    ("shard-summary-nowhere", SHARD.replace("{o}/s.parquet", "{nowhere}"), "{nowhere}"),
    ("shard-points-is-a-file", SHARD + " --points {best}/x", "{best}/x"),
    ("shard-same-output-twice", SHARD.replace("{o}/s.json", "{o}/s.parquet"), "{o}/s.parquet"),
    ("combine-missing-summary", COMBINE.replace("{s0}", "{tmp}/missing.parquet"),
     "{tmp}/missing.parquet"),
    ("combine-truncated-summary", COMBINE.replace("{s0}", "{tmp}/trunc.parquet"),
     "{tmp}/trunc.parquet"),
    ("combine-invalid-json", COMBINE.replace("{c0}", "{tmp}/bad.json"), "{tmp}/bad.json"),
    ("combine-binary-json", COMBINE.replace("{c0}", "{tmp}/bin.json"), "{tmp}/bin.json"),
    ("combine-json-not-counts", COMBINE.replace("{c0}", "{tmp}/list.json"), "{tmp}/list.json"),
    ("combine-best-is-directory", COMBINE.replace("{o}/b.parquet", "{tmp}/outdir"),
     "{tmp}/outdir"),
    ("combine-readonly", COMBINE.replace("{o}/p.parquet", "{ro}/p.parquet"), "{ro}/p.parquet"),
    ("analyse-missing-sweep", ANALYSE.replace("{sweep}", "{tmp}/missing.yaml"),
     "{tmp}/missing.yaml"),
    ("analyse-bad-sweep", ANALYSE.replace("{sweep}", "{tmp}/bad.yaml"), "{tmp}/bad.yaml"),
    ("analyse-best-not-parquet", ANALYSE.replace("{best}", "{tmp}/text.parquet"),
     "{tmp}/text.parquet"),
    ("analyse-counts-invalid-json", ANALYSE.replace("{counts}", "{tmp}/bad.json"),
     "{tmp}/bad.json"),
    ("analyse-counts-missing-keys", ANALYSE.replace("{counts}", "{tmp}/keys.json"),
     "{tmp}/keys.json"),
    ("analyse-out-nowhere", ANALYSE.replace("{o}/a.json", "{nowhere}"), "{nowhere}"),
    ("figures-analysis-invalid-json", FIGURES.replace("{analysis}", "{tmp}/bad.json"),
     "{tmp}/bad.json"),
    ("figures-analysis-not-object", FIGURES.replace("{analysis}", "{tmp}/list.json"),
     "{tmp}/list.json"),
    ("figures-truncated-best", FIGURES.replace("{best}", "{tmp}/trunc.parquet"),
     "{tmp}/trunc.parquet"),
    ("figures-out-dir-nowhere", FIGURES.replace("{o}/figures", "{nowhere}"), "{nowhere}"),
    ("figures-manifest-is-directory", FIGURES.replace("{o}/f.json", "{tmp}/outdir"),
     "{tmp}/outdir"),
    ("report-missing-analysis", REPORT.replace("{analysis}", "{tmp}/missing.json"),
     "{tmp}/missing.json"),
    ("report-figures-not-a-list", REPORT.replace("{manifest}", "{tmp}/keys.json"),
     "{tmp}/keys.json"),
    ("report-validation-binary", REPORT.replace("{validation}", "{tmp}/bin.json"),
     "{tmp}/bin.json"),
    ("report-html-readonly", REPORT.replace("{o}/r.html", "{ro}/r.html"), "{ro}/r.html"),
    ("report-pdf-nowhere", REPORT.replace("{o}/r.pdf", "{nowhere}"), "{nowhere}"),
    ("index-missing-keys", "index {tmp}/keys.json --out {o}/index.html", "{tmp}/keys.json"),
    ("index-analysis-outside", "index {outside} --out {o}/index.html", "{outside}"),
    ("index-out-nowhere", "index {analysis} --out {nowhere}", "{nowhere}"),
    ("validation-table-missing-runs", VTABLE + " --runs {tmp}/missing.csv",
     "{tmp}/missing.csv"),
    ("validation-table-runs-not-a-table", VTABLE + " --runs {tmp}/c.txt", "{tmp}/c.txt"),
    ("validation-table-json-nowhere", VTABLE.replace("{o}/v.json", "{nowhere}"), "{nowhere}"),
    ("validation-table-same-output", VTABLE.replace("{o}/v.json", "{o}/v.txt"), "{o}/v.txt"),
]


def _nothing_written(p: dict[str, str]) -> None:
    """No output folder gained a file (and the nowhere path was not created)."""
    assert list(Path(p["o"]).iterdir()) == []
    assert list(Path(p["tmp"], "outdir").iterdir()) == []
    assert not Path(p["tmp"], "nonexistent").exists()
    assert list(Path(p["tmp"], "ro").iterdir()) == []


@pytest.mark.parametrize("argv,named", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_misuse_is_one_line_naming_the_file(argv, named, paths, capsys):
    status = main(argv.format(**paths).split())
    err = capsys.readouterr().err
    assert status in (1, 2)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("trainplan: error: "), err
    assert named.format(**paths) in lines[0]
    _nothing_written(paths)


@pytest.mark.parametrize("argv", [
    "", "frobnicate", "evaluate x.csv", "shard s.yaml --shard one --summary a --counts b",
    "combine a.parquet --best b", "validate a.csv b.csv"])
def test_bad_arguments_are_one_line_and_status_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv.split())
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("trainplan: error: trainplan"), lines


def test_an_io_failure_while_running_is_status_1(paths, monkeypatch, capsys):
    from trainplan import atomic

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", f"{paths['o']}/.x.tmp")

    monkeypatch.setattr(atomic, "write_many", full_disk)
    assert main(VTABLE.format(**paths).split()) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"trainplan: error: {paths['o']}/.x.tmp: No space left on device"]


@pytest.mark.parametrize("argv,named", [
    ("evaluate {tmp}/trunc.parquet --out {o}/x.parquet", "{tmp}/trunc.parquet"),
    ("analyse {sweep} --best {best} --counts {tmp}/bad.json --out {o}/a.json", "{tmp}/bad.json"),
    ("validate --out {nowhere}", "{nowhere}"),
], ids=["evaluate", "analyse", "validate"])
def test_no_traceback_from_the_installed_command(argv, named, paths):
    proc = subprocess.run([sys.executable, "-m", "trainplan.cli", *argv.format(**paths).split()],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"trainplan: error: {named.format(**paths)}: ")
    assert "Traceback" not in proc.stderr
    _nothing_written(paths)


@pytest.mark.parametrize("name", ["fifo.yaml", "zero.yaml"])
def test_a_sweep_that_is_not_a_regular_file_is_refused_without_reading(name, paths):
    proc = subprocess.run([sys.executable, "-m", "trainplan.cli", "check",
                           f"{paths['tmp']}/{name}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == f"trainplan: error: {paths['tmp']}/{name}: is not a regular file " \
                          "(a device, FIFO or socket)\n"


def test_evaluate_names_columns_that_are_not_inputs(tmp_path, capsys):
    configs = tmp_path / "c.csv"
    configs.write_text("model,gpu,n_gpus,tp,global_batch,micro_bacth\nllama2-7b,A100,32,8,256,2\n")
    assert main(["evaluate", str(configs), "--out", str(tmp_path / "o.parquet")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"trainplan: warning: {configs}: unknown column(s) 'micro_bacth' (did you "
                   "mean 'micro_batch'?): not model inputs, carried through unchanged"]
