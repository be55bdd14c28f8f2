"""Sweep files: the YAML a user writes in ``sweeps/``, checked and turned into grid axes.

A sweep names the model(s), the hardware, the job and the parallel space;
any value may be a scalar, a list or a range (``{from: 64, to: 16384,
times: 2}`` or ``{from: 1, to: 8, step: 1}``). Every key, type and range is
checked against the JSON Schema in ``workflow/schemas/sweep.schema.yaml``
(generated from :data:`trainplan.inputs.INPUTS`), then catalog names and the
grid size are checked. Any problem raises :class:`SweepError` naming the
file, the key path, the bad value and what is allowed.

"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from trainplan import catalog
from trainplan.schema.catalog_fill import catalog_model_values
from trainplan.schema.inputs import ARCH_COLUMNS, LAYOUT_AXES
from trainplan.sweep import limits
from trainplan.sweep.reader import ReadError, SweepError, path_text, read_document, show
from trainplan.sweep.schema import DEFAULT_MAX_GRID_SIZE, DEFAULT_SHARD_SIZE, build_schema

__all__ = ["NAME_PATTERN", "Axis", "Sweep", "SweepError", "expand_values", "load_sweep"]

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
"""A sweep's name (its file name without ``.yaml``): it names folders and Snakemake
wildcards and reaches shell commands, so only letters, digits, ``_``, ``.`` and ``-``."""


@dataclass
class Axis:
    """One varied input: its name and its values in order (records for the model axis)."""

    name: str
    values: list[Any]


@dataclass
class Sweep:
    """A checked sweep: axes in file order (model first), constants and options."""

    name: str
    path: Path
    title: str
    description: str
    question: str
    keep: str
    shard_size: int
    max_grid_size: int
    axes: list[Axis]
    constants: dict[str, Any]
    scenario: list[str]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def size(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    def axis(self, name: str) -> Axis | None:
        return next((a for a in self.axes if a.name == name), None)


# --- loading ------------------------------------------------------------------------------------


def _schema_message(error) -> str:
    """One readable sentence for a jsonschema error (the most specific one)."""
    kind, limit, value = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed))
        return f"unknown key {show(extra[0])}; allowed keys: {', '.join(allowed)}"
    if kind == "required":
        return error.message.replace("is a required property", "is required")
    if kind == "anyOf":
        return f"value {show(value)} is not allowed; allowed: {_options(error.schema)}"
    if kind == "enum":
        return f"value {show(value)} is not allowed; allowed: " + ", ".join(map(str, limit))
    if kind == "maxLength":
        return f"text of {len(value):,} characters; allowed: at most {limit:,} characters"
    if kind in ("minimum", "maximum", "exclusiveMinimum"):
        words = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">"}[kind]
        return f"value {show(value)} is not allowed; allowed: {words} {limit:,}"
    if kind == "type":
        return f"value {show(value)} is not allowed; allowed: {_type_words(limit)}"
    return f"value {show(value)}: {' '.join(error.message.split())[:200]}"


def _type_words(kind: str | list) -> str:
    """``a string``, ``an integer``, ... for a JSON Schema type (or list of types)."""
    kinds = kind if isinstance(kind, list) else [kind]
    words = {"integer": "an integer", "object": "a mapping", "array": "a list",
             "number": "a number", "string": "text", "boolean": "true or false"}
    return " or ".join(words.get(k, k) for k in kinds)


def _options(schema: dict) -> str:
    """The alternatives of an ``anyOf`` schema, in words."""
    options = []
    for sub in schema["anyOf"]:
        if "anyOf" in sub:
            options.append(_options(sub))
        elif "$ref" in sub:
            options.append("a range {from, to, step|times}")
        elif sub.get("type") == "array":
            options.append("a list of them")
        elif "enum" in sub:
            options.append("one of " + ", ".join(map(str, sub["enum"])))
        elif "const" in sub:
            options.append(repr(sub["const"]))
        elif sub.get("type") == "object":
            options.append("an inline model {name, n_layers, hidden, ...}")
        else:
            rng = ""
            if "minimum" in sub:
                rng += f" >= {sub['minimum']:g}"
            if "maximum" in sub:
                rng += f" <= {sub['maximum']:g}"
            if "maxLength" in sub:
                rng += f" of at most {sub['maxLength']:,} characters"
            options.append(f"{'an' if sub.get('type') == 'integer' else 'a'} "
                           f"{sub.get('type', 'value')}{rng}")
    return "; or ".join(options)


def _nested(error) -> list:
    """Every error under an ``anyOf`` error, nested ``anyOf``s included."""
    out, stack = [], list(error.context or [])
    while stack:
        sub = stack.pop()
        out.append(sub)
        stack.extend(sub.context or [])
    return out


def _best_error(errors):
    def depth(e):
        return (len(e.absolute_path), -len(e.context or []))
    return max(errors, key=depth)


def expand_values(value: Any, where: str) -> list[Any]:
    """A scalar, list or range as a list of values."""
    if isinstance(value, dict) and "from" in value:
        start, stop = value["from"], value["to"]
        if stop < start:
            raise SweepError(f"{where}: range 'from' {start} is above 'to' {stop}")
        if "times" in value and start <= 0:
            raise SweepError(f"{where}: a geometric range ('times') starts above 0; "
                             f"'from' is {start}")
        out = []
        x = start
        while x <= stop * (1 + 1e-12):
            out.append(int(x) if float(x).is_integer() and isinstance(start, int) else x)
            x = x * value["times"] if "times" in value else x + value["step"]
            if len(out) > 100_000:
                raise SweepError(f"{where}: range produces more than 100,000 values")
        return out
    if isinstance(value, list):
        return list(value)
    return [value]


def _listing(values: list) -> str:
    """The first values of a list, for a message."""
    text = ", ".join(map(str, values[:12])) + (", ..." if len(values) > 12 else "")
    return text or "(not varied)"


def _where(path: Path) -> str:
    """The file as messages name it (``repr`` if its name holds unprintable characters)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def load_sweep(path: str | Path) -> Sweep:
    """Read, check and expand one sweep file."""
    path = Path(path)
    where = _where(path)
    if not re.fullmatch(NAME_PATTERN, path.stem):
        raise SweepError(f"{where}: the sweep name {show(path.stem)} (the file name without "
                         f".yaml) is not allowed; allowed: {NAME_PATTERN} (letters, digits, "
                         "'_', '.', '-'; at most 64 characters)")
    try:
        raw = read_document(path)
    except ReadError as err:
        raise SweepError(f"{where}: {err}") from None
    if not isinstance(raw, dict):
        raise SweepError(f"{where}: a sweep is a mapping with the keys title, model, hardware, "
                         "job (and parallel, efficiency, budget)")
    limits.check_numbers(raw, where)
    errors = list(Draft202012Validator(build_schema()).iter_errors(raw))
    if errors:
        err = _best_error(errors)
        if err.validator == "anyOf" and err.context:
            deeper = [c for c in _nested(err) if len(c.absolute_path) > len(err.absolute_path)]
            if deeper and not isinstance(err.instance, (str, int, float, bool)):
                err = _best_error(deeper)
        raise SweepError(f"{where}: {path_text(err.absolute_path)}: {_schema_message(err)}")
    sweep = _build(path, raw)
    from trainplan.sweep.shard import n_shards  # shard imports this module
    limits.check_plan(where, sweep.size, sweep.shard_size, sweep.keep, n_shards(sweep))
    return sweep


def _model_records(raw_model: Any, where: str) -> list[dict[str, Any]]:
    items = raw_model if isinstance(raw_model, list) else [raw_model]
    records = []
    for i, item in enumerate(items):
        key = f"{where}: model" + (f"[{i}]" if isinstance(raw_model, list) else "")
        if isinstance(item, str):
            if catalog.find_model(item) is None:
                raise SweepError(f"{key}: unknown model {show(item)}; known models: "
                                 f"{', '.join(catalog.model_names())} (or give the dimensions "
                                 "inline)")
            records.append({"model": catalog.model(item)["name"]})
            continue
        record = {"model": item["name"]}
        if "base" in item:
            base = catalog.find_model(item["base"])
            if base is None:
                raise SweepError(f"{key}.base: unknown model {show(item['base'])}; known models: "
                                 f"{', '.join(catalog.model_names())}")
            record.update({k: v for k, v in catalog_model_values(base).items()
                           if k != "seq_len"})
        record.update({k: v for k, v in item.items() if k not in ("name", "base")})
        missing = [k for k in ARCH_COLUMNS if k not in record]
        if missing:
            raise SweepError(f"{key}: inline model {show(item['name'])} lacks {', '.join(missing)} "
                             "(give them, or 'base: <catalog model>')")
        limits.check_model(record, key)
        records.append(record)
    names = [r["model"] for r in records]
    if len(set(names)) != len(names):
        raise SweepError(f"{where}: model: the same model name appears twice")
    return records


def _sections(raw: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """The hardware, job, parallel, efficiency and budget sections, checked and normalised."""
    job = dict(raw.get("job") or {})
    if "global_batch" in job and "global_batch_tokens" in job:
        raise SweepError(f"{where}: job: give global_batch (sequences) or global_batch_tokens, "
                         "not both")
    if "global_batch" not in job and "global_batch_tokens" not in job:
        raise SweepError(f"{where}: job.global_batch is required (sequences per optimizer "
                         "step), or job.global_batch_tokens")
    hardware = dict(raw.get("hardware") or {})
    for key in ("gpu", "n_gpus"):
        if key not in hardware:
            raise SweepError(f"{where}: hardware.{key} is required")
    for i, name in enumerate(expand_values(hardware["gpu"], f"{where}: hardware.gpu")):
        if catalog.find_gpu(name) is None:
            suffix = f"[{i}]" if isinstance(hardware["gpu"], list) else ""
            raise SweepError(f"{where}: hardware.gpu{suffix}: unknown GPU {show(name)}; known "
                             f"GPUs: {', '.join(catalog.gpu_names())}")
    hardware["gpu"] = [catalog.gpu(g)["name"] for g in expand_values(hardware["gpu"], where)]
    parallel = dict(raw.get("parallel") or {})
    if parallel.get("dp") == "auto":
        del parallel["dp"]
    return [("hardware", hardware), ("job", job), ("parallel", parallel),
            ("efficiency", dict(raw.get("efficiency") or {})),
            ("budget", dict(raw.get("budget") or {}))]


def _scenario(raw: dict[str, Any], axes: list[Axis], where: str) -> list[str]:
    """The scenario axes (checked), after checking the reference scenario's values."""
    names = [a.name for a in axes]
    scenario = raw.get("scenario") or [n for n in names if n not in LAYOUT_AXES]
    for name in scenario:
        if name not in names:
            raise SweepError(f"{where}: scenario: {show(name)} is not a varied input of this "
                             f"sweep; varied inputs: {', '.join(names) or '(none)'}")
    for name in raw.get("answer_axes") or []:
        if name not in scenario:
            raise SweepError(f"{where}: answer_axes: {show(name)} is not a scenario axis of "
                             f"this sweep; scenario axes: {', '.join(scenario) or '(none)'}")
    for key, value in (raw.get("reference") or {}).items():
        axis = next((a for a in axes if a.name == key), None)
        values = [v["model"] for v in axis.values] if axis and key == "model" else \
            (axis.values if axis else [])
        if value not in values:
            raise SweepError(f"{where}: {path_text(('reference', key))}: {show(value)} is not a "
                             f"value of a varied input; allowed: {_listing(values)}")
    return list(scenario)


def _build(path: Path, raw: dict[str, Any]) -> Sweep:
    """The checked sweep: constants, axes (in file order), scenario, size limits."""
    where = _where(path)
    axes: list[Axis] = []
    constants: dict[str, Any] = {}
    models = _model_records(raw["model"], where)
    if len(models) == 1:
        constants["model"] = models[0]
    else:
        axes.append(Axis("model", models))
    for section, values in _sections(raw, where):
        for key, value in values.items():
            at = f"{where}: {section}.{key}"
            items = expand_values(value, at)
            if isinstance(value, dict):
                limits.check_range_values(items, key, at)
            limits.check_repeats(items, at)
            if len(items) == 1:
                constants[key] = items[0]
            else:
                axes.append(Axis(key, items))
    size = math.prod(len(a.values) for a in axes)
    max_size = int(raw.get("max_grid_size", DEFAULT_MAX_GRID_SIZE))
    if size > max_size:
        dims = " x ".join(f"{a.name} {len(a.values)}" for a in axes)
        raise SweepError(f"{where}: the grid has {size:,} configurations ({dims}), more than "
                         f"max_grid_size {max_size:,}; narrow the lists or raise max_grid_size")
    return Sweep(
        name=path.stem, path=path, title=raw["title"],
        description=str(raw.get("description", "")).strip(),
        question=str(raw.get("question", "")).strip(),
        keep=raw.get("keep", "all"), shard_size=int(raw.get("shard_size", DEFAULT_SHARD_SIZE)),
        max_grid_size=max_size, axes=axes, constants=constants,
        scenario=_scenario(raw, axes, where), raw=raw)
