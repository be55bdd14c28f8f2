"""Pipeline sub-commands (filled in by the sweep pipeline)."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the pipeline sub-commands on the ``trainplan`` parser."""
    return None
