"""Every public function of ``trainplan.model`` carries a physics docstring in numpydoc form.

The rule of the style guide (pvlib): a one-line summary, ``Parameters`` naming every argument
of the signature, ``Returns`` and ``References``; every argument and the return value typed
(``ArrayLike -> NDArrayFloat`` for the broadcasting functions); every ``array_like`` number
with its unit in brackets.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import trainplan.model

SECTIONS = ("Parameters", "Returns", "Notes", "References", "Raises", "See Also", "Examples")


def _public_functions():
    """(qualified name, function) of every public function defined in a model module."""
    found = []
    for info in pkgutil.iter_modules(trainplan.model.__path__):
        module = importlib.import_module(f"trainplan.model.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isfunction(obj) and obj.__module__ == module.__name__
                    and not name.startswith("_")):
                found.append((f"{info.name}.{name}", obj))
    return sorted(found, key=lambda item: item[0])


FUNCTIONS = _public_functions()


def _section(doc: str, title: str) -> list[str] | None:
    """Lines of one numpydoc section (``None`` when the section is missing)."""
    lines = doc.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and set(lines[i + 1].strip()) == {"-"}:
            body = []
            for j in range(i + 2, len(lines)):
                if (j + 1 < len(lines) and lines[j].strip() in SECTIONS
                        and set(lines[j + 1].strip()) == {"-"}):
                    break
                body.append(lines[j])
            return body
    return None


def _entries(section: list[str]) -> dict[str, tuple[str, str]]:
    """``{name: (type, description)}`` of a Parameters section (``a, b : type`` share one)."""
    indent = min(len(x) - len(x.lstrip()) for x in section if x.strip())
    entries, current = {}, None
    for line in section:
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) == indent:
            names, _, kind = line.strip().partition(" : ")
            current = [n.strip().lstrip("*") for n in names.split(",")]
            for n in current:
                entries[n] = (kind.strip(), "")
        elif current:
            for n in current:
                kind, text = entries[n]
                entries[n] = (kind, f"{text} {line.strip()}")
    return entries


def _doc(function) -> str:
    return inspect.cleandoc(function.__doc__ or "")


def test_there_are_functions_to_check():
    assert len(FUNCTIONS) > 60


@pytest.mark.parametrize(("name", "function"), FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_docstring_has_summary_and_sections(name, function):
    doc = _doc(function)
    assert doc, f"{name} has no docstring"
    assert doc.splitlines()[0].strip().endswith("."), f"{name}: the summary is one sentence"
    for title in ("Parameters", "Returns", "References"):
        assert _section(doc, title) is not None, f"{name}: no {title} section"
    assert re.search(r"^\.\. \[1\]", "\n".join(_section(doc, "References")), re.M), (
        f"{name}: References has no '.. [1]' entry")


@pytest.mark.parametrize(("name", "function"), FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_every_parameter_is_documented_with_a_unit(name, function):
    entries = _entries(_section(_doc(function), "Parameters") or ["x"])
    for parameter in inspect.signature(function).parameters:
        assert parameter in entries, f"{name}: parameter {parameter!r} not in Parameters"
        kind, text = entries[parameter]
        if kind == "array_like":   # a number: its unit in brackets ([-] when dimensionless)
            assert re.search(r"\[[^\]]+\]", text), f"{name}: {parameter!r} has no [unit]"


@pytest.mark.parametrize(("name", "function"), FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_signature_is_typed(name, function):
    signature = inspect.signature(function)
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, (
            f"{name}: parameter {parameter.name!r} has no type")
    assert signature.return_annotation is not inspect.Signature.empty, (
        f"{name}: no return type")
