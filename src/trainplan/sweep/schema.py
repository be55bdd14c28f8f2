"""The JSON Schema of a sweep file, generated from :data:`trainplan.schema.inputs.INPUTS`.

Run ``python -m trainplan.sweep.schema --write-schema`` after changing the inputs; a test
checks that ``workflow/schemas/sweep.schema.yaml`` is up to date.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from trainplan.schema.inputs import INPUT_BY_NAME, INPUTS

DEFAULT_MAX_GRID_SIZE = 200_000_000
DEFAULT_SHARD_SIZE = 1_000_000
MAX_GRID_SIZE = 10_000_000_000
"""The largest ``max_grid_size`` a sweep may set."""
MAX_TITLE = 200
"""Longest title and model name [characters]."""
MAX_TEXT = 5_000
"""Longest description and question [characters]."""
SECTIONS = ("hardware", "job", "parallel", "efficiency", "budget")



def _scalar_schema(spec) -> dict:
    kinds = {"int": {"type": "integer"}, "float": {"type": "number"},
             "bool": {"type": "boolean"}, "name": {"type": "string", "minLength": 1,
                                                             "maxLength": MAX_TITLE}}
    s = dict(kinds.get(spec.kind, {"type": "string", "enum": list(spec.choices)}))
    if spec.kind in ("int", "float"):
        if spec.minimum is not None:
            s["minimum"] = spec.minimum
        if spec.maximum is not None:
            s["maximum"] = spec.maximum
    return s


def _value_schema(spec) -> dict:
    one = _scalar_schema(spec)
    alternatives = [one, {"type": "array", "minItems": 1, "items": one}]
    if spec.kind in ("int", "float"):
        alternatives.append({"$ref": "#/$defs/range"})
    unit = f" [{spec.unit}]" if spec.unit != "-" else ""
    return {"description": spec.description + unit, "anyOf": alternatives}


def _input_sections() -> tuple[dict[str, dict], dict]:
    """Schemas of the hardware/job/parallel/efficiency sections and of an inline model."""
    sections: dict[str, dict] = {s: {} for s in SECTIONS}
    arch = {}
    for spec in INPUTS:
        if spec.group == "model":
            if spec.name not in ("model", "seq_len"):
                arch[spec.name] = _scalar_schema(spec)
            continue
        sections[spec.group][spec.name] = _value_schema(spec)
    sections["job"]["seq_len"] = _value_schema(INPUT_BY_NAME["seq_len"])
    sections["job"]["global_batch_tokens"] = {
        "description": "Global batch in tokens, instead of global_batch in sequences [tokens]",
        "anyOf": [{"type": "number", "exclusiveMinimum": 0},
                  {"type": "array", "minItems": 1,
                   "items": {"type": "number", "exclusiveMinimum": 0}}]}
    dp = sections["parallel"]["dp"]
    dp["anyOf"].append({"const": "auto"})
    dp["description"] += "; 'auto' (the default) fills the GPUs left by tp*pp*cp"
    inline = {"type": "object", "additionalProperties": False, "required": ["name"],
              "description": "A model given by its dimensions; fields left out come from the "
                             "catalog entry named by 'base'",
              "properties": {"name": _name(), "base": _name(), **arch}}
    return sections, {"anyOf": [_name(), inline]}


def _name() -> dict:
    """The schema of a name (a new dict each time, so the YAML has no aliases)."""
    return {"type": "string", "minLength": 1, "maxLength": MAX_TITLE}


_TOP_LEVEL = {
    "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE},
    "description": {"type": "string", "maxLength": MAX_TEXT},
    "question": {"type": "string", "maxLength": MAX_TEXT},
    "keep": {"enum": ["all", "feasible", "best"],
             "description": "rows kept in points/: every row, the feasible rows, or "
                            "none (only the best rows and the Pareto frontier)"},
    "shard_size": {"type": "integer", "minimum": 1000,
                   "description": "configurations per Snakemake job"},
    "max_grid_size": {"type": "integer", "minimum": 1, "maximum": MAX_GRID_SIZE,
                      "description": "refuse grids larger than this "
                                     f"(default {DEFAULT_MAX_GRID_SIZE:,})"},
    "scenario": {"type": "array", "minItems": 1, "uniqueItems": True,
                 "items": {"type": "string", "maxLength": MAX_TITLE},
                 "description": "axes that define a scenario; default: every varied "
                                "input that is not a parallel-layout choice"},
    "answer_axes": {"type": "array", "minItems": 1, "uniqueItems": True,
                    "items": {"type": "string", "maxLength": MAX_TITLE},
                    "description": "the scenario axes the question is about: page 1 answers "
                                   "over them, with the fastest scenario over the others; "
                                   "default: every scenario axis while the answer fits page "
                                   "1, else model, gpu and n_gpus"},
    "reference": {"type": "object", "minProperties": 1,
                  "additionalProperties": {"type": ["string", "number", "boolean"],
                                           "maxLength": MAX_TITLE},
                  "description": "the scenario of the headline recommendation, e.g. "
                                 "{n_gpus: 1024}; default: the largest cluster whose "
                                 "best TFLOP/s per GPU is within 90 % of the best on "
                                 "its GPU type"},
}


def build_schema() -> dict:
    """The JSON Schema of a sweep file, generated from
    :data:`trainplan.schema.inputs.INPUTS`."""
    sections, model_item = _input_sections()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "trainplan sweep",
        "description": "One sweep: the question, the model(s), the hardware, the job and the "
                       "parallel space. Any value may be a scalar, a list or a range; the grid "
                       "is their cartesian product.",
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "model", "hardware", "job"],
        "properties": {
            **_TOP_LEVEL,
            "model": {"anyOf": [model_item, {"type": "array", "minItems": 1,
                                             "items": model_item}]},
            **{sec: {"type": "object", "additionalProperties": False, "properties": props}
               for sec, props in sections.items()},
        },
        "$defs": {"range": {
            "type": "object", "additionalProperties": False, "required": ["from", "to"],
            "description": "from..to inclusive, by 'step' (arithmetic) or 'times' (geometric)",
            "properties": {"from": {"type": "number"}, "to": {"type": "number"},
                           "step": {"type": "number", "exclusiveMinimum": 0},
                           "times": {"type": "number", "exclusiveMinimum": 1}},
            "oneOf": [{"required": ["step"]}, {"required": ["times"]}]}},
    }


SCHEMA_HEADER = ("# JSON Schema of a sweep file (sweeps/*.yaml). Generated from "
                 "trainplan.schema.inputs.INPUTS by\n"
                 "# 'python -m trainplan.sweep.schema --write-schema'; "
                 "do not edit by hand.\n")


def schema_text() -> str:
    return SCHEMA_HEADER + yaml.safe_dump(build_schema(), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sweep schema tools")
    parser.add_argument("--write-schema", action="store_true",
                        help="regenerate workflow/schemas/sweep.schema.yaml")
    args = parser.parse_args(argv)
    if args.write_schema:
        target = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / \
            "sweep.schema.yaml"
        target.write_text(schema_text())
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
