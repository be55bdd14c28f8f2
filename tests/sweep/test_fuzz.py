"""Fuzzing the sweep loader: whatever the file holds, loading it (and building its grid, as the
workflow does at parse time) either succeeds or raises SweepError / InputError.

``test_fuzz_loader`` runs a few hundred examples in the unit tests; ``test_fuzz_loader_ci``
runs 10^4 under the ``e2e`` marker (``pytest -m e2e``, as CI does)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import TEST_SWEEPS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainplan.schema.inputs import InputError
from trainplan.sweep.file import SweepError, load_sweep
from trainplan.sweep.grid import Grid

TINY = (TEST_SWEEPS / "tiny.yaml").read_text()
GOOD = yaml.safe_load(TINY)
KEYS = ["title", "model", "hardware", "job", "parallel", "efficiency", "keep", "shard_size",
        "max_grid_size", "scenario", "reference", "gpu", "n_gpus", "tp", "pp", "from", "to",
        "step", "times", "name", "base", "hidden", "n_heads", "n_kv_heads", "global_batch",
        "global_batch_tokens", "seq_len", "recompute", "description", "1", "x"]
TOKENS = ["&a ", "*a", "<<: ", "!!binary ", "!!set ", "!!python/object:os.system ", "[", "]",
          "{", "}", ": ", "- ", "? ", ",", "\n", "\n  ", "\t", ".inf", "-.inf", ".nan", "1e400",
          "~", "null", "true", "yes", "0x1f", "0o7", "1_000", "2001-13-45", "$", "\\", '"',
          "'", "#", "---\n", "...\n", "%YAML 1.2\n", "\x85", "\ufeff", "\u2028", "é", "\x00"]

numbers = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, 1, 2, 8, 1.0, 0.5, -1, 10**12]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30),
                    st.sampled_from(["llama2-7b", "H100", "auto", "best", "all", "none",
                                     "full", "bf16", "a$x$b"]))
ranges = st.fixed_dictionaries({"from": numbers, "to": numbers},
                               optional={"step": numbers, "times": numbers})
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(), st.booleans())
values = st.recursive(
    st.one_of(scalars, ranges),
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25)


def _path_into(data: dict, path: list[str], value) -> dict:
    """``data`` with ``value`` set at the key ``path`` (intermediate mappings created)."""
    out = dict(data)
    node = out
    for key in path[:-1]:
        child = node.get(key)
        node[key] = dict(child) if isinstance(child, dict) else {}
        node = node[key]
    node[path[-1]] = value
    return out


def _dump(data) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:      # mixed key types cannot be sorted: keep insertion order
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@st.composite
def documents(draw) -> bytes:
    """A sweep file: random bytes, random YAML, a valid sweep with a random value set, or a
    valid sweep's text with random edits."""
    kind = draw(st.sampled_from(["bytes", "yaml", "set", "edit", "edit"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "yaml":
        return _dump(draw(values)).encode()
    if kind == "set":
        path = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3))
        return _dump(_path_into(GOOD, path, draw(values))).encode()
    text = TINY
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 12))
        new = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)))
        text = text[:at] + new + text[at + cut:]
    return text.encode("utf-8", errors="surrogatepass")


def _check(path: Path, data: bytes) -> None:
    """Loading ``data`` succeeds or raises one of the project's errors with one line."""
    path.write_bytes(data)
    try:
        Grid(load_sweep(path))
    except (SweepError, InputError) as err:
        assert "\n" not in str(err), str(err)
        assert str(err).startswith(str(path)), str(err)


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"


FUZZ = {"deadline": None, "database": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                  HealthCheck.filter_too_much]}


@settings(max_examples=300, derandomize=True, **FUZZ)
@given(data=documents())
def test_fuzz_loader(target, data):
    _check(target, data)


@pytest.mark.e2e
@settings(max_examples=10_000, **FUZZ)
@given(data=documents())
def test_fuzz_loader_ci(target, data):
    _check(target, data)
