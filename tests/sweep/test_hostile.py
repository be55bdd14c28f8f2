"""Hostile and broken sweep files: one test per failure class. Each is refused with a
SweepError (nothing else) whose message is one line naming the file, the key or value and
what is allowed, quickly and without blocking."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import yaml
from conftest import TEST_SWEEPS

from trainplan.sweep import limits, reader
from trainplan.sweep.file import NAME_PATTERN, SweepError, load_sweep
from trainplan.sweep.shard import n_shards

TINY = (TEST_SWEEPS / "tiny.yaml").read_text()
GOOD = yaml.safe_load(TINY)


def refused(path: Path, *parts: str) -> str:
    """The one-line SweepError of loading ``path``; it names the file and every ``part``."""
    with pytest.raises(SweepError) as err:
        load_sweep(path)
    message = str(err.value)
    shown = str(path) if str(path).isprintable() else repr(str(path))
    assert "\n" not in message and message.startswith(f"{shown}: "), message
    for part in parts:
        assert part in message, message
    return message


def sweep_file(tmp_path: Path, text: str | bytes, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def changed(tmp_path: Path, **changes) -> Path:
    """The tiny sweep with top-level keys replaced (``None`` removes one)."""
    data = {**GOOD, **changes}
    return sweep_file(tmp_path, yaml.safe_dump({k: v for k, v in data.items() if v is not None}))


# --- names and files ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["my sweep", "a.yaml;touch PWNED;#", "-x", ".hidden",
                                  "x" * 65, "$(id)", "a\nb"])
def test_unsafe_sweep_names_are_refused(tmp_path, name):
    path = sweep_file(tmp_path, TINY, name + ".yaml")
    message = refused(path, "the sweep name", f"allowed: {NAME_PATTERN}")
    assert not (tmp_path / "PWNED").exists() and message


def test_safe_sweep_names_are_accepted(tmp_path):
    for name in ("a", "Llama-3_70b.v2", "9" * 64):
        assert load_sweep(sweep_file(tmp_path, TINY, name + ".yaml")).name == name


def _load_in_thread(path: Path, seconds: float = 5.0) -> BaseException | None:
    """Load in a thread; fail if it blocks. Returns what it raised."""
    box: list[BaseException] = []

    def run():
        try:
            load_sweep(path)
        except BaseException as err:        # handed to the test
            box.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"loading {path} blocks"
    return box[0] if box else None


@pytest.mark.parametrize("kind", ["directory", "fifo", "dev-zero symlink"])
def test_non_regular_files_are_refused_without_opening(tmp_path, kind):
    path = tmp_path / "x.yaml"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    err = _load_in_thread(path)
    assert isinstance(err, SweepError)
    assert str(err).startswith(f"{path}: not a regular file (")
    assert "a sweep is a YAML file" in str(err)


def test_symlink_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "real.yaml").write_text(TINY)
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    assert load_sweep(tmp_path / "link.yaml").size == 1944


def test_file_above_the_size_cap(tmp_path):
    path = sweep_file(tmp_path, TINY + "#" * reader.MAX_BYTES)
    refused(path, "bytes; a sweep file may have at most 1,000,000 bytes")


@pytest.mark.parametrize(("data", "expected"), [
    ("title: caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 10)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary data (a NUL byte at offset 8); a sweep is UTF-8"),
    (b"title: \x01\n", "not valid YAML: character #x0001"),
])
def test_non_utf8_and_binary_files(tmp_path, data, expected):
    refused(sweep_file(tmp_path, data), expected)


# --- YAML structure -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    (TINY + "parallel:\n  tp: 1\n", "parallel: duplicate key 'parallel'"),
    (TINY.replace("  tp: [1, 2, 4, 8]\n", "  tp: [1, 2, 4, 8]\n  tp: 2\n"),
     "parallel.tp: duplicate key 'tp'"),
])
def test_duplicate_keys_at_any_level(tmp_path, text, expected):
    refused(sweep_file(tmp_path, text), expected, "each key may appear once")


def _laughs(levels: int, width: int) -> str:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]"
              for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_before_it_expands(tmp_path):
    """9^9 = 387 million "lol"s: refused once MAX_NODES values are counted, never built
    (its time is in benchmarks/, not asserted here)."""
    path = sweep_file(tmp_path, _laughs(10, 9))
    refused(path, f"more than {reader.MAX_NODES:,} values with aliases expanded")


def test_too_many_aliases(tmp_path):
    text = "x: &x 1\nl: [" + ", ".join(["*x"] * (reader.MAX_ALIASES + 1)) + "]\n"
    refused(sweep_file(tmp_path, text), f"more than {reader.MAX_ALIASES} aliases (line 2")


@pytest.mark.parametrize(("text", "expected"), [
    (TINY + "1: x\n", "(top level): key '1' is not allowed; keys are names (text)"),
    ("parallel: {true: x}\n", "parallel: key 'true' is not allowed"),
    ("? [1, 2]\n: x\n", "a list or mapping as a key is not allowed"),
    ("b: &b {tp: 1}\nparallel:\n  <<: *b\n", "parallel: merge key '<<' is not allowed"),
])
def test_keys_that_are_not_names(tmp_path, text, expected):
    refused(sweep_file(tmp_path, text), expected)


@pytest.mark.parametrize("text", ["a: " + "[" * 10_000 + "]" * 10_000,
                                  "a: " + "{a: " * 10_000 + "1" + "}" * 10_000,
                                  "a:\n" + "".join(" " * i + "- \n" for i in range(1, 500))])
def test_deep_nesting_is_refused_before_recursion(tmp_path, text):
    refused(sweep_file(tmp_path, text), f"nested deeper than {reader.MAX_DEPTH} levels")


def test_recursive_alias(tmp_path):
    refused(sweep_file(tmp_path, "a: &x [*x]\n"), "a[0][0]: nested deeper than")


@pytest.mark.parametrize(("text", "expected"), [
    ("title: !!binary aGVsbG8=\n", "title: value 'aGVsbG8=' of tag"),
    ("title: 2001-13-45\n", "title: value '2001-13-45' of tag"),
    ("title: !!python/object/apply:os.system [id]\n", "title: tag"),
    ("a: !!set {x, y}\n", "a: tag 'tag:yaml.org,2002:set' is not allowed"),
])
def test_tags_other_than_plain_values(tmp_path, text, expected):
    refused(sweep_file(tmp_path, text), expected, "allowed:")


def test_huge_integer(tmp_path):
    refused(sweep_file(tmp_path, TINY + "shard_size: " + "9" * 5000 + "\n"),
            "shard_size: integer of 5000 digits; allowed: at most 30 digits")


def test_not_a_mapping_and_several_documents(tmp_path):
    refused(sweep_file(tmp_path, "- 1\n- 2\n"), "a sweep is a mapping")
    refused(sweep_file(tmp_path, "a: 1\n---\nb: 2\n"), "expected a single document")


# --- values -------------------------------------------------------------------------------------

HW = GOOD["hardware"]


@pytest.mark.parametrize(("n_gpus", "expected"), [
    ({"from": 8, "to": ".inf", "times": 2}, "hardware.n_gpus.to: value inf"),
    ({"from": ".nan", "to": 32, "step": 8}, "hardware.n_gpus.from: value nan"),
    ({"from": 8, "to": "1e400", "step": 8}, "hardware.n_gpus.to: value inf"),
])
def test_non_finite_numbers(tmp_path, n_gpus, expected):
    text = TINY.replace("n_gpus: [8, 16, 32]", "n_gpus: {" + ", ".join(
        f"{k}: {v}" for k, v in n_gpus.items()) + "}")
    refused(sweep_file(tmp_path, text), expected, "allowed: a finite number")


def test_infinite_global_batch_tokens(tmp_path):
    text = TINY.replace("global_batch: 256", "global_batch_tokens: .inf")
    refused(sweep_file(tmp_path, text), "job.global_batch_tokens: value inf",
            "allowed: a finite number")


@pytest.mark.parametrize(("n_gpus", "expected"), [
    ({"from": -8, "to": 32, "step": 8}, "the range gives -8, which is not allowed; allowed: "
                                         "an integer >= 1"),
    ({"from": 0, "to": 32, "times": 2}, "a geometric range ('times') starts above 0"),
    ({"from": 1, "to": 4, "step": 0.5}, "the range gives 1.5, which is not allowed; allowed: "
                                         "an integer >= 1"),
])
def test_range_values_outside_the_input(tmp_path, n_gpus, expected):
    path = changed(tmp_path, hardware={**HW, "n_gpus": n_gpus})
    refused(path, "hardware.n_gpus", expected)


def test_equal_numbers_repeat(tmp_path):
    path = changed(tmp_path, parallel={**GOOD["parallel"], "tp": [1, 1.0, 2]})
    refused(path, "parallel.tp: values repeat: 1.0 equals the earlier 1",
            "each value may appear once")


@pytest.mark.parametrize(("fields", "expected"), [
    ({"hidden": 4097}, "hidden 4097 is not divisible by n_heads 32; allowed: n_heads dividing"),
    ({"n_kv_heads": 64}, "n_kv_heads 64 does not divide n_heads 32; allowed: a divisor of "
                         "n_heads (at most n_heads)"),
    ({"n_kv_heads": 3}, "n_kv_heads 3 does not divide n_heads 32"),
])
def test_inconsistent_inline_models(tmp_path, fields, expected):
    path = changed(tmp_path, model=[{"name": "mine", "base": "llama2-7b", **fields}])
    refused(path, "model[0]: inline model 'mine'", expected)


@pytest.mark.parametrize(("key", "cap"), [("title", 200), ("description", 5000),
                                          ("question", 5000)])
def test_text_above_its_cap(tmp_path, key, cap):
    refused(changed(tmp_path, **{key: "x" * (cap + 1)}),
            f"{key}: text of {cap + 1:,} characters; allowed: at most {cap:,} characters")


def test_model_name_above_its_cap(tmp_path):
    path = changed(tmp_path, model={"name": "m" * 201, "base": "llama2-7b"})
    refused(path, "model.name: text of 201 characters; allowed: at most 200 characters")
    path = changed(tmp_path, model="m" * 201)
    refused(path, "model: value 'mmm", "allowed: a string of at most 200 characters")


def test_long_values_are_shortened_in_messages(tmp_path):
    message = refused(changed(tmp_path, keep="k" * 4000), "keep: value 'kkk")
    assert len(message) < 300


# --- the job plan -------------------------------------------------------------------------------

def test_max_grid_size_has_a_cap(tmp_path):
    refused(changed(tmp_path, max_grid_size=10**12),
            "max_grid_size: value 1000000000000 is not allowed; allowed: <= 10,000,000,000")


def _big(tmp_path: Path, n_gpus_to: int, **options) -> Path:
    """One model on n_gpus 1..n_gpus_to x tp 1..1000 x pp 1..1000."""
    data = {**GOOD, "model": "llama2-7b", **options,
            "hardware": {**HW, "n_gpus": {"from": 1, "to": n_gpus_to, "step": 1}},
            "parallel": {"tp": {"from": 1, "to": 1000, "step": 1},
                         "pp": {"from": 1, "to": 1000, "step": 1}}}
    return sweep_file(tmp_path, yaml.safe_dump(data))


def test_too_many_jobs(tmp_path):
    path = _big(tmp_path, 4, shard_size=1000)
    refused(path, "shard_size: 1,000 configurations per job cut the grid of 4,000,000 into "
                  "4,000 jobs, more than the limit of 500; raise shard_size (to at least "
                  "about 8,000)")


def test_estimated_time_above_the_limit(tmp_path):
    path = _big(tmp_path, 8000, keep="all", shard_size=20_000_000,
                max_grid_size=10_000_000_000)
    message = refused(path, "the grid of 8,000,000,000 configurations with keep: all needs an "
                            "estimated", f"more than the limit of {limits.MAX_CORE_HOURS:g}")
    assert "narrow the lists, use keep: best" in message


def test_a_billion_layouts_kept_best_in_large_shards_is_accepted(tmp_path):
    path = _big(tmp_path, 1000, keep="best", shard_size=50_000_000,
                max_grid_size=1_000_000_000)
    sweep = load_sweep(path)
    assert sweep.size == 10**9 and n_shards(sweep) <= limits.MAX_JOBS
    assert limits.estimated_core_hours(sweep.size, "best") < limits.MAX_CORE_HOURS


def test_line_breaks_in_keys_and_values_stay_on_one_line(tmp_path):
    refused(sweep_file(tmp_path, "? '\n\n  '\n: 0: null\n"), "key '0' is not allowed")
    refused(sweep_file(tmp_path, TINY + 'reference: {"a\\nb": 1}\n'), "reference.'a\\nb'")
