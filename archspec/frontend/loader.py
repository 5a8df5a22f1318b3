"""YAML text to a plain tree whose mappings and lists remember where each of their items was written.

Built on the safe YAML loader: only the standard scalar types, no Python object tags. Anchors
and aliases are allowed, but the expanded size is bounded so that an alias bomb fails fast.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import Pos, SpecError, brief
from archspec.limits import MAX_BYTES, MAX_DEPTH, MAX_INT_TEXT, MAX_NODES, MAX_PATH_CHARS, within_budget

MAX_NUMBER_CHARS = 64  # a number written longer than this is refused before it is converted

_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Map(dict[str, Any]):
    """A YAML mapping with the position of itself, of each key and of each value."""

    pos: Pos
    key_pos: dict[str, Pos]
    value_pos: dict[str, Pos]

    def at(self, key: str) -> Pos:
        return self.value_pos.get(key, self.pos)


class Seq(list[Any]):
    """A YAML sequence with the position of itself and of each item."""

    pos: Pos
    item_pos: list[Pos]

    def at(self, index: int) -> Pos:
        return self.item_pos[index] if 0 <= index < len(self.item_pos) else self.pos


def position_of(value: Any, fallback: Pos) -> Pos:
    return value.pos if isinstance(value, (Map, Seq)) else fallback


def load_file(path: Path, display: str | None = None) -> Any:
    name = display or str(path)
    return decode(read_bounded(path, name), name)


def check_path(path: Path | str, where: Pos) -> None:
    """SpecError for a path no file can have: one with a NUL, or longer than the OS allows."""
    text = os.fspath(path)
    if "\0" in text:
        raise SpecError.at(where, "the path contains a NUL character; no file can have that name")
    if len(os.fsencode(text)) > MAX_PATH_CHARS:
        raise SpecError.at(where, f"the path is {len(text)} characters long; the limit is {MAX_PATH_CHARS}")


def read_bounded(path: Path, name: str) -> bytes:
    """The bytes of a regular file of at most MAX_BYTES. The file is opened without blocking and
    checked on its open descriptor before a byte is read, so a FIFO, a device (`/dev/zero`) or a
    directory is refused at once, and a file that grows while it is read is cut off at the limit."""
    where = Pos(name, 1, 1)
    check_path(path, where)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise SpecError.at(where, f"cannot read spec: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError.at(where, f"cannot read spec: it is {_file_kind(info.st_mode)}, not a regular file")
        if info.st_size > MAX_BYTES:
            raise SpecError.at(where, f"spec is {info.st_size} bytes; the limit is {MAX_BYTES}")
        chunks, size = [], 0
        while size <= MAX_BYTES and (chunk := os.read(fd, MAX_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise SpecError.at(where, f"cannot read spec: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise SpecError.at(where, f"spec grew past {MAX_BYTES} bytes while it was read; the limit is {MAX_BYTES}")
    return b"".join(chunks)


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device"}
    kinds |= {stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next((kind for test, kind in kinds.items() if test(mode)), "not a file")


def decode(data: bytes, name: str) -> Any:
    """The tree of a spec file's bytes, which must be UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        pos = Pos(name, before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1)
        raise SpecError.at(pos, f"spec is not UTF-8 text ({exc.reason})") from None
    return load_text(text, name)


def load_text(text: str, name: str = "<string>") -> Any:
    """The tree of a spec's text. libyaml (the C parser, where PyYAML has it) reads fast but has
    limits and messages of its own: it refuses nesting past 1000 levels while scanning ahead, so
    before our depth check reaches its level. So when it gives up, the text is read again by the
    pure-Python parser, which has neither: a spec's errors, their positions and words, are then
    the same whichever parser is installed, and only the errors pay for the second reading."""
    if len(text) > MAX_BYTES:
        raise SpecError.at(Pos(name, 1, 1), f"spec is {len(text)} characters; limit {MAX_BYTES}")
    try:
        return _load(text, name, _SafeLoader)
    except yaml.YAMLError as exc:
        error = exc
    if _SafeLoader is not yaml.SafeLoader:
        try:
            return _load(text, name, yaml.SafeLoader)
        except yaml.YAMLError as exc:
            error = exc
    raise _located(error, text, name) from None


def _load(text: str, name: str, parser: type[yaml.SafeLoader]) -> Any:
    _check_depth(text, name, parser)
    loader = parser(text)
    try:
        root = loader.get_single_node()
        if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
            raise SpecError.at(Pos(name, 1, 1), "spec is empty")
        return _Converter(name, loader).convert(root, 1)
    finally:
        loader.dispose()


def _located(exc: yaml.YAMLError, text: str, name: str) -> SpecError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(name, mark.line + 1, mark.column + 1) if mark else Pos(name, 1, 1)
        if mark is not None and text[mark.index : mark.index + 1] == "\t":
            return SpecError.at(pos, "invalid YAML: a tab; YAML indents with spaces only")
        said = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
        return SpecError.at(pos, f"invalid YAML: {said}")
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        pos = Pos(name, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        return SpecError.at(pos, f"invalid YAML: character {exc.character!r} is not allowed")
    return SpecError.at(Pos(name, 1, 1), f"invalid YAML: {str(exc).splitlines()[0]}")


def _check_depth(text: str, name: str, parser: type[yaml.SafeLoader]) -> None:
    """Refuse deep nesting before composing: building the node tree recurses once per level,
    and a small file of brackets could otherwise exhaust the stack. The event parser does not."""
    depth = 0
    for event in yaml.parse(text, Loader=parser):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                where = Pos(name, mark.line + 1, mark.column + 1) if mark else Pos(name, 1, 1)
                raise SpecError.at(where, f"spec is nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _Converter:
    def __init__(self, name: str, loader: yaml.SafeLoader):
        self.name = name
        self.loader = loader
        self.count = 0

    def pos(self, node: yaml.Node) -> Pos:
        return Pos(self.name, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node: yaml.Node, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError.at(
                self.pos(node),
                f"spec expands to more than {MAX_NODES} YAML nodes",
                hint="anchors and aliases that refer to each other multiply (an 'alias bomb')",
            )
        if depth > MAX_DEPTH:  # only aliases get here: the text itself was checked by _check_depth
            raise SpecError.at(
                self.pos(node), f"spec is nested deeper than {MAX_DEPTH} levels (an alias that contains itself?)"
            )
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            raise SpecError.at(self.pos(node), f"YAML tag '{node.tag}' is not allowed in a spec")
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            seq = Seq(self.convert(item, depth + 1) for item in node.value)
            seq.pos = self.pos(node)
            seq.item_pos = [self.pos(item) for item in node.value]
            return seq
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        """A scalar; numbers must be finite and of bounded size. A long number is refused before
        it is converted: YAML 1.1's base-60 integers (`1:2:3`) cost quadratic time to convert."""
        numeric = node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        if numeric and len(node.value) > MAX_NUMBER_CHARS:
            raise SpecError.at(
                self.pos(node), f"number is {len(node.value)} characters long; the limit is {MAX_NUMBER_CHARS}"
            )
        try:
            value = self.loader.construct_object(node)
        except yaml.constructor.ConstructorError:
            raise SpecError.at(self.pos(node), f"YAML tag '{node.tag}' is not allowed in a spec") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError.at(
                self.pos(node), f"'{node.value}' is not a finite number; a spec takes finite numbers only"
            )
        if isinstance(value, int) and not within_budget(value):
            raise SpecError.at(self.pos(node), f"{brief(value)} is too large; numbers are limited to ±{MAX_INT_TEXT}")
        return value

    def mapping(self, node: yaml.MappingNode, depth: int) -> Map:
        out = Map()
        out.pos, out.key_pos, out.value_pos = self.pos(node), {}, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError.at(self.pos(key_node), "YAML merge keys ('<<') are not supported")
            key = self.convert(key_node, depth + 1)
            if not isinstance(key, str):
                raise SpecError.at(self.pos(key_node), f"keys must be strings, not {key!r}")
            if key in out:
                raise SpecError.at(
                    self.pos(key_node),
                    f"duplicate key '{key}'",
                    hint=f"first written at line {out.key_pos[key].line}",
                )
            out[key] = self.convert(value_node, depth + 1)
            out.key_pos[key] = self.pos(key_node)
            out.value_pos[key] = self.pos(value_node)
        return out
