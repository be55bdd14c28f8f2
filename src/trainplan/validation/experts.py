"""The architecture a run row takes from the catalog model it names, and its expert cells.

A row whose ``model_name`` is a catalog name or alias takes every architecture cell it
leaves blank from that entry (dense dimensions, experts, latent attention, local attention,
multi-token prediction), as a new user's table naming ``deepseek-v3`` expects; expert cells
the row states (``n_experts``, ``top_k``, ``ep``...) win. The free-text expert settings
(``moe_dispatcher``, ``moe_a2a_overlap``) are read with the other settings
(:data:`trainplan.validation.spec.SETTINGS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainplan import catalog
from trainplan.schema.inputs import ARCH_COLUMNS, INPUT_BY_NAME
from trainplan.validation.parse import number

CATALOG_FILLED = ("n_layers", "hidden", "n_heads", "n_kv_heads", "ffn_hidden", "vocab")
"""Dense architecture cells a row naming a catalog model exactly may leave blank."""

_DENSE_ARCHITECTURE = frozenset(("n_layers", "hidden", "n_heads", "n_kv_heads", "ffn_hidden",
                                 "gated_mlp", "vocab", "tied_embeddings", "linear_bias",
                                 "position_embedding", "norm", "dropout"))

MOE_ARCHITECTURE = tuple(c for c in ARCH_COLUMNS if c not in _DENSE_ARCHITECTURE)
"""Expert, attention-variant and multi-token-prediction cells (every architecture input
with a default: ``n_experts``, ``top_k``, ``moe_ffn_hidden``, ``head_dim``, the MLA widths,
``sliding_window``, ``mtp_layers``...): from the row when stated, else from the catalog
entry ``model_name`` names, else the input defaults (a dense model)."""

EXPERT_LAYOUT = ("ep", "etp", "moe_router_group_topk")
"""Expert-parallel degrees and group-limited routing a row may state (blank: the input
defaults)."""

EXPERT_SETTINGS = ("moe_dispatcher", "moe_a2a_overlap")
"""Free-text expert settings (parsed with the row's other settings)."""


def from_catalog(row: dict, note: Callable[[str], None]) -> tuple[dict, dict]:
    """``row`` with its blank dense architecture cells taken from the catalog entry that
    ``model_name`` names exactly (a name or an alias), each one noted, and that entry
    (``{}`` when the name is not a catalog entry)."""
    entry = catalog.find_model(str(row.get("model_name") or "").strip())
    if entry is None:
        return row, {}
    row = dict(row)
    filled = [key for key in CATALOG_FILLED if number(row, key) is None and entry.get(key)]
    for key in filled:
        row[key] = str(entry[key])
    if not str(row.get("activation") or "").strip():
        row["activation"] = "swiglu" if entry.get("gated_mlp") else "gelu"
        filled.append("activation")
    if filled:
        note(f"{', '.join(filled)} from catalog entry {entry['name']} (not stated)")
    return row, entry


def fill(row: dict, entry: dict, settings: dict[str, Any], base: dict[str, Any]) -> None:
    """Put the expert and attention-variant cells, the expert-parallel degrees and the
    parsed expert settings into ``base`` (the row's value, else the catalog ``entry``'s)."""
    for key in MOE_ARCHITECTURE:
        kind = INPUT_BY_NAME[key].kind
        value = None if kind == "bool" else number(row, key)
        if value is None and entry.get(key) is not None:
            value = entry[key]
        if value is not None:
            base[key] = {"bool": bool, "float": float}.get(kind, int)(value)
    for key in EXPERT_LAYOUT:
        value = number(row, key)
        if value is not None:
            base[key] = int(value)
    for key in EXPERT_SETTINGS:
        if settings.get(key) is not None:
            base[key] = settings[key]

