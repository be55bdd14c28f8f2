"""Read a sweep file as untrusted input: bytes with a cap, then a guarded YAML document.

Everything a YAML file can do to a reader is bounded before it costs time or memory:

* the file must be a regular file (a directory, FIFO or device named ``x.yaml`` is refused
  from its ``stat``, before it is opened, so nothing blocks) of at most :data:`MAX_BYTES`;
* the text must be UTF-8 without NUL bytes;
* nesting deeper than :data:`MAX_DEPTH` stops the parser before Python's recursion limit;
* aliases are limited to :data:`MAX_ALIASES` and the document, with every alias expanded,
  to :data:`MAX_NODES` values (a "billion laughs" file fails in milliseconds);
* mapping keys must be text and appear once per mapping; ``<<`` merge keys and tags other
  than text, numbers, booleans and null are refused.

Numbers follow YAML 1.2 (``1e12`` is a float; ``1_000`` an integer). Any problem raises
:class:`ReadError` with a one-line message (without the file name, which the caller adds).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1_000_000
"""Largest sweep file read [bytes] (the shipped sweeps are about 2 kB)."""
MAX_DEPTH = 12
"""Deepest nesting of lists and mappings (a sweep needs 4)."""
MAX_ALIASES = 100
"""Most ``*alias`` references in one file."""
MAX_NODES = 10_000
"""Most values (scalars, lists, mappings) in the document with every alias expanded."""

_SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")}
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_STR = "tag:yaml.org,2002:str"
_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")


class SweepError(ValueError):
    """A sweep file that cannot be used; the message says where and what is allowed, on one
    line (any line break a key or value brings is replaced by a space)."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).splitlines()))


class ReadError(ValueError):
    """A sweep file that cannot be read as a sweep document (one-line message)."""


class _Loader(yaml.SafeLoader):
    """YAML 1.2 numbers (``1e12`` and ``1.5e3`` are floats, PyYAML's YAML 1.1 reads them as
    strings; integers with ``_`` separators are integers), bounded depth and aliases."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):
        """Compose one node, counting aliases and refusing excessive depth."""
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise ReadError(f"more than {MAX_ALIASES} aliases ({_mark(self.peek_event())}); "
                                "write the values out")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ReadError(f"nested deeper than {MAX_DEPTH} levels "
                                f"({_mark(self.peek_event())}); a sweep needs at most 4")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _mark(event) -> str:
    """``line L, column C`` of a parser event."""
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


def path_text(path: tuple) -> str:
    """A key path as the messages write it: ``parallel.tp[1]``; ``(top level)`` if empty."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _NAME.fullmatch(part) else show(part, 40)
        out += f".{name}" if out else name
    return out or "(top level)"


def show(value: Any, limit: int = 60) -> str:
    """``repr`` of a value for a message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing anything but a regular file of at most MAX_BYTES."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ReadError(f"not a regular file ({_kind(info.st_mode)}); a sweep is a "
                            "YAML file")
        if info.st_size > MAX_BYTES:
            raise ReadError(f"file of {info.st_size:,} bytes; a sweep file may have at most "
                            f"{MAX_BYTES:,} bytes")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):   # replaced since the stat above
                raise ReadError("not a regular file; a sweep is a YAML file")
            data = os.read(fd, MAX_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise ReadError("no such file") from None
    except OSError as err:
        raise ReadError(f"cannot read: {err.strerror or err}") from None
    if len(data) > MAX_BYTES:
        raise ReadError(f"file of more than {MAX_BYTES:,} bytes; a sweep file may have at most "
                        f"{MAX_BYTES:,} bytes")
    return data


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def decode(data: bytes) -> str:
    """UTF-8 text (a leading byte-order mark dropped); binary data refused."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ReadError(f"binary data (a NUL byte at offset {nul}); a sweep is UTF-8 text")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise ReadError(f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset "
                        f"{err.start}); save the file as UTF-8") from None


def parse(text: str) -> Any:
    """The YAML document of ``text`` as plain Python values (dict, list, str, numbers)."""
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        return None if node is None else _Builder(loader).build(node, ())
    except yaml.YAMLError as err:
        raise ReadError(_yaml_message(err)) from None
    except RecursionError:      # not reached with MAX_DEPTH; kept so it can never escape
        raise ReadError(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_message(err: yaml.YAMLError) -> str:
    """One line for a PyYAML error: what is wrong and where."""
    mark = getattr(err, "problem_mark", None)
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    if isinstance(err, yaml.reader.ReaderError):
        what = f"character #x{err.character:04x} at position {err.position} is not allowed" \
            if isinstance(err.character, int) else err.reason
    else:
        parts = (getattr(err, "context", None), getattr(err, "problem", None))
        what = ", ".join(p for p in parts if p) or str(err)
    return " ".join(f"not valid YAML{at}: {what}".split())


class _Builder:
    """Plain values from a composed YAML node tree, with every check that needs the key path."""

    def __init__(self, loader: _Loader):
        self.loader = loader
        self.nodes = 0

    def build(self, node: Node, path: tuple) -> Any:
        """The value of ``node`` at key path ``path`` (aliases expanded, within MAX_NODES)."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ReadError(f"{path_text(path)}: more than {MAX_NODES:,} values with aliases "
                            "expanded; a sweep file may hold at most that many")
        if len(path) > MAX_DEPTH:   # an alias cycle such as `a: &x [*x]`
            raise ReadError(f"{path_text(path[:3])}: nested deeper than {MAX_DEPTH} levels "
                            "(a recursive alias?)")
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self._mapping(node, path)
        raise ReadError(f"{path_text(path)}: tag {node.tag!r} is not allowed; allowed: plain "
                        "mappings, lists, text, numbers, true/false and null")

    def _scalar(self, node: ScalarNode, path: tuple) -> Any:
        """A text, number, boolean or null scalar."""
        if node.tag not in _SCALAR_TAGS:
            raise ReadError(f"{path_text(path)}: value {show(node.value)} of tag {node.tag!r} is "
                            "not allowed; allowed: text, numbers, true/false and null")
        if node.tag == "tag:yaml.org,2002:int" and len(node.value) > 30:
            raise ReadError(f"{path_text(path)}: integer of {len(node.value)} digits; allowed: "
                            "at most 30 digits")
        try:
            return self.loader.construct_object(node)
        except (ValueError, OverflowError) as err:
            raise ReadError(f"{path_text(path)}: value {show(node.value)} cannot be read: "
                            f"{' '.join(str(err).split())}") from None

    def _mapping(self, node: MappingNode, path: tuple) -> dict[str, Any]:
        """A mapping with unique text keys."""
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not (isinstance(key_node, ScalarNode) and key_node.tag == _STR):
                what = "merge key '<<'" if key_node.tag.endswith(":merge") else \
                    f"key {show(getattr(key_node, 'value', key_node.tag))}" \
                    if isinstance(key_node, ScalarNode) else "a list or mapping as a key"
                raise ReadError(f"{path_text(path)}: {what} is not allowed; keys are names "
                                "(text)")
            key = key_node.value
            if key in out:
                raise ReadError(f"{path_text((*path, key))}: duplicate key {show(key)} "
                                f"(line {key_node.start_mark.line + 1}); each key may appear "
                                "once")
            out[key] = self.build(value_node, (*path, key))
        return out


def read_document(path: Path) -> Any:
    """Read, decode and parse one sweep file; raises :class:`ReadError`."""
    return parse(decode(read_bytes(path)))
