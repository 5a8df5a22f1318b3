"""Identifier hygiene for generated source, in one place.

Nothing a spec says reaches generated code except through here (as an identifier checked to be
legal, unique and non-shadowing) or through `literal` (a value rendered by repr of a checked
Python type). Spec names are already restricted by the schema to letters, digits and `_`; this
module does not rely on that.
"""

from __future__ import annotations

import ast
import builtins as _builtins
import functools
import itertools
import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archspec.ops import BatchNorm

_ILLEGAL = re.compile(r"[^0-9A-Za-z_]")


def pascal_case(name: str) -> str:
    """`inception_a` -> `InceptionA`, `block35` -> `Block35`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)


class Namespace:
    """Hands out identifiers that are legal Python, unique within the namespace, never mangled by
    a class body (`__x` is written `__x__`), and shadow no keyword or name reserved by the caller
    (imports, helpers, `self`, ...). Names of variables and functions shadow no builtin either;
    `attributes=True` is for attribute names, which cannot shadow one, and prefers `name_` for a
    taken name, the usual spelling (`training_`), before `name_2`."""

    def __init__(self, reserved: Iterable[str] = (), attributes: bool = False):
        self._taken = set(reserved) | set(keyword.kwlist) | set(keyword.softkwlist)
        if not attributes:  # nor the names that formatters refuse as ambiguous (l, O, I)
            self._taken |= set(dir(_builtins)) | {"l", "O", "I"}
        self._suffixes = ("", "_") if attributes else ("",)
        self._given: dict[str, str] = {}

    def name(self, wanted: str) -> str:
        """The identifier for `wanted`; asking again for the same string gives the same answer,
        and different strings never get the same identifier."""
        if wanted not in self._given:
            self._given[wanted] = self.fresh(wanted)
        return self._given[wanted]

    def fresh(self, wanted: str) -> str:
        """A new identifier as close to `wanted` as is free: `wanted` itself, else (attributes)
        `wanted_`, else `wanted_2`, `wanted_3`, ..."""
        base = _ILLEGAL.sub("_", wanted) or "_"
        if base[0].isdigit():
            base = f"_{base}"
        if base.startswith("__") and not base.endswith("__"):
            base += "__"
        numbered = (f"{base}_{n}" for n in itertools.count(2))
        for candidate in itertools.chain((base + suffix for suffix in self._suffixes), numbered):
            if candidate.startswith("__") and not candidate.endswith("__"):
                candidate += "__"  # `__x_2` would be mangled too
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate
        raise AssertionError("unreachable: the candidates never end")


class Scopes:
    """Identifiers for hierarchical IR names (`mixed_6b/branch_1/conv_2`): each part is named in the
    namespace of its parent, so `a/x` and `b/x` both keep `x`, and within one parent different
    parts never meet. The same parts asked in the same order give the same identifiers, which is
    how a generated class and the live model agree on every attribute name."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.reserved = frozenset(reserved)
        self._spaces: dict[str, Namespace] = {}
        self._paths: dict[str, tuple[str, ...]] = {"": ()}

    def path(self, name: str) -> tuple[str, ...]:
        if name not in self._paths:
            parent, _, leaf = name.rpartition("/")
            self._paths[name] = (*self.path(parent), self.space(parent).name(leaf))
        return self._paths[name]

    def space(self, scope: str) -> Namespace:
        """The namespace of one parent ("" for the top), for names that are not IR names."""
        if scope not in self._spaces:
            self._spaces[scope] = Namespace(self.reserved, attributes=True)
        return self._spaces[scope]


def literal(value: Any) -> str:
    """Python source for a plain value: only numbers, booleans, None, strings and tuples/lists of
    them are accepted, and strings are escaped by repr, so no spec text can become code."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if value != value:
            raise ValueError(f"cannot emit the non-finite number {value!r}")
        if value in (float("inf"), float("-inf")):  # a max pool's padding, never a spec's number
            return f'float("{value}")'
        return repr(value)
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, (tuple, list)):
        items = ", ".join(literal(v) for v in value)
        return (
            f"({items},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({items})" if isinstance(value, tuple) else f"[{items}]")
        )
    raise TypeError(f"cannot emit a {type(value).__name__} as a literal")


def _quoted(text: str) -> str:
    """repr's escaping in double quotes, as formatters write strings, where the text has none."""
    escaped = repr(text)
    if escaped.startswith("'") and '"' not in text:
        return '"' + escaped[1:-1] + '"'
    return escaped


def word(text: str) -> str:
    """Spec text for a docstring or comment: word characters only, so it cannot end the string."""
    return re.sub(r"\W", "_", text)


def names_tuple(names: list[str]) -> str:
    """`tuple(f"block35_{i}" for i in range(1, 11))` for numbered names, else a tuple literal."""
    base, _, first = names[0].rpartition("_")
    if re.fullmatch(r"[A-Za-z0-9_]+", base) and first.isdigit():
        start = int(first)
        if names == [f"{base}_{i}" for i in range(start, start + len(names))]:
            return f'tuple(f"{base}_{{i}}" for i in range({start}, {start + len(names)}))'
    return "(\n" + "".join(f"    {literal(name)},\n" for name in names) + ")"


class Constants:
    """Module-level constants of a generated file (batch-norm settings, instance-name tuples):
    one name per distinct value, in upper case."""

    def __init__(self, names: Namespace) -> None:
        self.names = names
        self.lines: dict[str, str] = {}

    def add(self, wanted: str, source: str) -> str:
        for name, existing in self.lines.items():
            if existing == source:
                return name
        name = self.names.fresh(wanted.upper())
        self.lines[name] = source
        return name

    def value(self, value: Any) -> str:
        """Source for a value: a BatchNorm becomes a shared constant, anything else a literal."""
        if isinstance(value, BatchNorm):
            default = BatchNorm()
            changed = [f for f in ("eps", "momentum", "scale", "center") if getattr(value, f) != getattr(default, f)]
            return self.add("BN", "BatchNorm(" + ", ".join(f"{f}={literal(getattr(value, f))}" for f in changed) + ")")
        return literal(value)

    def source(self) -> str:
        return "".join(self._line(name, value) for name, value in self.lines.items())

    @staticmethod
    def _line(name: str, value: str) -> str:
        """`NAME = value`, laid out as `layout` lays out a call; a generator of names too long
        for one line on a line of its own."""
        line = f"{name} = {value}\n"
        if len(line) <= LINE + 1 or "\n" in value:
            return line
        if value.startswith("tuple(f"):
            return f"{name} = tuple(\n    {value[len('tuple(') : -1]}\n)\n"
        return wrap_call("", f"{name} = ", value)


LINE = 88  # the longest line generated code has: the default of ruff and black, so that a
# generated file is already formatted as a project that formats its code expects


def wrap(indent: str, head: str, args: list[str], tail: str = ")") -> str:
    """`head(args)tail` on one line if it fits, else the arguments on their own line(s)."""
    line = f"{indent}{head}{', '.join(args)}{tail}"
    if len(line) <= LINE:
        return line + "\n"
    inner = indent + "    "
    joined = inner + ", ".join(args)
    if len(joined) <= LINE:
        return f"{indent}{head}\n{joined}\n{indent}{tail}\n"
    return f"{indent}{head}\n" + "".join(f"{inner}{arg},\n" for arg in args) + f"{indent}{tail}\n"


@dataclass(frozen=True)
class Bracketed:
    """An expression that opens a bracket, lists items and closes it (`f(a, b=c)`, `{"k": v}`),
    for `layout`. Each item is a prefix (`b=`, `"k": `, or "") and an expression."""

    opening: str
    items: list[tuple[str, Bracketed | str]]
    closing: str

    def flat(self) -> str:
        return self.opening + ", ".join(p + flat(e) for p, e in self.items) + self.closing


def flat(expression: Bracketed | str) -> str:
    return expression.flat() if isinstance(expression, Bracketed) else expression


def layout(indent: str, prefix: str, expression: Bracketed | str, suffix: str = "") -> str:
    """`{indent}{prefix}{expression}{suffix}` as ruff and black lay it out: on one line where it
    fits; else a sole bracketed item on lines of its own; else the items on one line of their
    own where they fit; else one item a line, each with a trailing comma."""
    line = indent + prefix + flat(expression) + suffix
    if len(line) <= LINE or not isinstance(expression, Bracketed):
        return line + "\n"
    inner = indent + "    "
    head = f"{indent}{prefix}{expression.opening}\n"
    tail = f"{indent}{expression.closing}{suffix}\n"
    items = expression.items
    if len(items) == 1 and not items[0][0] and isinstance(items[0][1], Bracketed):
        return head + layout(inner, "", items[0][1]) + tail
    hugged = inner + ", ".join(p + flat(e) for p, e in items)
    if len(hugged) <= LINE:
        return head + hugged + "\n" + tail
    return head + "".join(layout(inner, p, e, ",") for p, e in items) + tail


def bracketed(expression: str) -> Bracketed | str:
    """A call written by the generator (`ConvBnAct(...)`), its arguments and theirs found with
    Python's own parser (so that no comma inside a literal splits one); other text as it is."""
    parsed = ast.parse(expression, mode="eval").body
    if not isinstance(parsed, ast.Call) or any(isinstance(a, ast.GeneratorExp) for a in parsed.args):
        return expression  # a generator's own parentheses are the call's
    segment = functools.partial(ast.get_source_segment, expression)
    items: list[tuple[str, Bracketed | str]] = [("", bracketed(segment(a) or "")) for a in parsed.args]
    for k in parsed.keywords:
        items.append((f"{k.arg}=" if k.arg else "**", bracketed(segment(k.value) or "")))
    return Bracketed(f"{segment(parsed.func)}(", items, ")")


def wrap_call(indent: str, prefix: str, call: str, suffix: str = "") -> str:
    """`{indent}{prefix}{call}{suffix}` for a call written by the generator, laid out as `layout`
    lays it out."""
    return layout(indent, prefix, bracketed(call), suffix)
