"""Print pip constraints pinning every installed distribution trainplan needs.

Run with the interpreter of an environment where trainplan is installed (``scripts/lock.sh``
does, in a fresh venv after the tests pass): it walks trainplan's requirements, with the
extras named on the command line, through the installed distributions' own requirements, and
prints ``name==version`` for each, sorted. trainplan itself is left out.

    .venv/bin/python scripts/freeze_lock.py test slurm > scripts/constraints.txt
"""

from __future__ import annotations

import importlib.metadata as md
import sys

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _requirements(dist: md.Distribution, extras: set[str]) -> list[Requirement]:
    """The requirements of ``dist`` that apply here, with ``extras`` requested."""
    wanted = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None:
            wanted.append(req)
            continue
        for extra in extras or {""}:
            if req.marker.evaluate({**default_environment(), "extra": extra}):
                wanted.append(req)
                break
    return wanted


def closure(root: str, extras: set[str]) -> dict[str, str]:
    """{name: version} of every installed distribution ``root[extras]`` needs."""
    found: dict[str, str] = {}
    todo = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue    # an optional requirement that is not installed
        for req in _requirements(dist, wanted):
            key = canonicalize_name(req.name)
            if key not in found:
                try:
                    found[key] = md.version(req.name)
                except md.PackageNotFoundError:
                    continue
                todo.append((req.name, set(req.extras)))
            elif req.extras:
                todo.append((req.name, set(req.extras)))
    found.pop(canonicalize_name(root), None)
    return found


def main(argv: list[str]) -> int:
    pins = closure("trainplan", set(argv))
    py = ".".join(map(str, sys.version_info[:2]))
    print("# pip constraints: the dependency versions trainplan was tested with "
          f"(Python {py}, extras: {', '.join(argv) or '-'}).")
    print("# Made by scripts/lock.sh; installed by scripts/bootstrap.sh (pip install -c).")
    for name, version in sorted(pins.items()):
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
