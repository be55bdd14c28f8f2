"""Catalogs of accelerators, model architectures, architecture families, networks and
training frameworks.

Each catalog is a CSV file in ``catalog/data`` with one row per entry and a
``source`` column naming where its numbers come from. Names are matched
case-insensitively and ignoring punctuation (``A100-SXM4-80GB`` ==
``a100 sxm4 80gb``), and every entry lists the aliases that published tables
and launch scripts use for it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "UnknownNameError",
    "family",
    "gpu",
    "gpu_names",
    "model",
    "model_names",
    "network",
    "network_names",
    "normalise_name",
]

_BOOL = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


class UnknownNameError(KeyError):
    """A name that is in no catalog; the message lists what is allowed."""

    def __init__(self, kind: str, name: str, allowed: list[str]):
        self.kind, self.name, self.allowed = kind, name, allowed
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {', '.join(allowed)}")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]


def normalise_name(name: str) -> str:
    """Lower-case ``name`` and drop everything but letters and digits."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass(frozen=True)
class _Catalog:
    kind: str
    rows: tuple[dict[str, Any], ...]
    index: dict[str, int]

    def names(self) -> list[str]:
        return [r["name"] for r in self.rows]

    def find(self, name: str) -> dict[str, Any] | None:
        i = self.index.get(normalise_name(name))
        return None if i is None else dict(self.rows[i])

    def find_leading_words(self, name: str) -> dict[str, Any] | None:
        """The entry named by the most leading words of ``name`` (words split at spaces,
        hyphens, underscores, slashes and brackets): ``BLOOM-candidate 195B`` is ``BLOOM``
        when ``BLOOM-candidate 195B`` and ``BLOOM-candidate`` name no entry. Whole words
        only: ``GPT-3.6B`` never matches ``GPT-3``."""
        words = [w for w in re.split(r"[\s\-_/(),;]+", str(name)) if w]
        for n in range(len(words), 0, -1):
            found = self.find(" ".join(words[:n]))
            if found is not None:
                return found
        return None

    def get(self, name: str) -> dict[str, Any]:
        row = self.find(name)
        if row is None:
            raise UnknownNameError(self.kind, name, self.names())
        return row


def _convert(value: str) -> Any:
    text = value.strip()
    if text == "":
        return None
    if text.lower() in _BOOL:
        return _BOOL[text.lower()]
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


@cache
def _load(filename: str, kind: str) -> _Catalog:
    text = resources.files("trainplan.catalog").joinpath("data", filename).read_text()
    rows = []
    for raw in csv.DictReader(text.splitlines()):
        row = {k: (_convert(v) if k not in ("name", "aliases", "source", "notes") else v)
               for k, v in raw.items()}
        rows.append(row)
    index: dict[str, int] = {}
    for i, row in enumerate(rows):
        for alias in [row["name"], *str(row.get("aliases") or "").split(";")]:
            key = normalise_name(alias)
            if key:
                index.setdefault(key, i)
    return _Catalog(kind, tuple(rows), index)


def _gpus() -> _Catalog:
    return _load("gpus.csv", "GPU")


@cache
def _models() -> _Catalog:
    """Dense models (``models.csv``) and mixture-of-experts models (``moe_models.csv``) in
    one catalog: a field one file does not have is None (its input default applies)."""
    dense, moe = _load("models.csv", "model"), _moe_models()
    rows = dense.rows + moe.rows
    index = dict(dense.index)
    for key, i in moe.index.items():
        index.setdefault(key, i + len(dense.rows))
    return _Catalog("model", rows, index)


def _moe_models() -> _Catalog:
    return _load("moe_models.csv", "mixture-of-experts model")


def find_moe_model(name: str) -> dict[str, Any] | None:
    """The mixture-of-experts catalog entry named ``name`` (or an alias), or None.

    These entries carry the architecture of today's MoE models (experts, top-k, shared
    experts, dense layers, latent attention) with their sources; :func:`find_model` finds
    them too.
    """
    return _moe_models().find(name)


def moe_model_names() -> list[str]:
    """Names of the mixture-of-experts catalog entries."""
    return _moe_models().names()


def _networks() -> _Catalog:
    return _load("networks.csv", "network")


def gpu(name: str) -> dict[str, Any]:
    """The catalog entry of accelerator ``name`` (raises :class:`UnknownNameError`)."""
    return _gpus().get(name)


def find_gpu(name: str) -> dict[str, Any] | None:
    """The catalog entry of accelerator ``name``, or None."""
    return _gpus().find(name)


def gpu_names() -> list[str]:
    return _gpus().names()


def model(name: str) -> dict[str, Any]:
    """The catalog entry of model architecture ``name`` (raises :class:`UnknownNameError`)."""
    return _models().get(name)


def find_model(name: str) -> dict[str, Any] | None:
    return _models().find(name)


def model_names() -> list[str]:
    return _models().names()


def network(name: str) -> dict[str, Any]:
    """The catalog entry of scale-out network ``name`` (raises :class:`UnknownNameError`)."""
    return _networks().get(name)


def find_network(name: str) -> dict[str, Any] | None:
    return _networks().find(name)


def network_names() -> list[str]:
    return _networks().names()


def _frameworks() -> _Catalog:
    return _load("frameworks.csv", "framework")


def find_framework(name: str) -> dict[str, Any] | None:
    """The framework profile whose name or alias is ``name`` (exactly, ignoring case and
    punctuation: ``Megatron-LM (2022)`` == ``Megatron-LM 2022``), or None.

    Reading a free-text framework cell (name, version, remarks) is
    :func:`trainplan.validation.framework.profile`'s job; a profile that lists its bare name
    as an alias (``NeMo``) stands for every version of it.
    """
    return _frameworks().find(name)


def framework(name: str) -> dict[str, Any]:
    """The framework profile ``name`` (raises :class:`UnknownNameError`)."""
    return _frameworks().get(name)


def framework_names() -> list[str]:
    return _frameworks().names()


def find_model_family(name: str) -> dict[str, Any] | None:
    """The model entry named by the most leading words of ``name`` (``Llama-2-7B (our
    reproduction)`` -> llama2-7b), or None."""
    return _models().find_leading_words(name)


def _families() -> _Catalog:
    """The architecture-family catalog."""
    return _load("families.csv", "architecture family")


def family(name: str) -> dict[str, Any]:
    """The conventions of architecture family ``name`` (``gpt``, ``llama``): position
    embedding, norm, biases, tying and dropout (raises :class:`UnknownNameError`)."""
    return _families().get(name)


def all_network_aliases() -> list[tuple[str, dict[str, Any]]]:
    """Every (alias, entry) pair of the network catalog, longest alias first."""
    cat = _networks()
    pairs = []
    for row in cat.rows:
        for alias in [row["name"], *str(row.get("aliases") or "").split(";")]:
            if alias.strip():
                pairs.append((alias.strip(), dict(row)))
    return sorted(pairs, key=lambda p: -len(p[0]))
