"""Identifier hygiene for generated source, in one place.

Nothing a spec says reaches generated code except through here (as an identifier checked to be
legal, unique and non-shadowing) or through `literal` (a value rendered by repr of a checked
Python type). Spec names are already restricted by the schema to letters, digits and `_`; this
module does not rely on that.
"""

from __future__ import annotations

import builtins
import keyword
import re
from typing import Any

from archspec.ops import BatchNorm

_ILLEGAL = re.compile(r"[^0-9A-Za-z_]")


def pascal_case(name: str) -> str:
    """`inception_a` -> `InceptionA`, `block35` -> `Block35`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)


class Namespace:
    """Hands out identifiers that are legal Python, unique within the namespace, and shadow no
    keyword, builtin or name reserved by the caller (imports, `self`, `x`, ...)."""

    def __init__(self, reserved: tuple[str, ...] = ()):
        self._taken = set(reserved) | set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)
        self._given: dict[str, str] = {}

    def name(self, wanted: str) -> str:
        """The identifier for `wanted`; asking again for the same string gives the same answer."""
        if wanted not in self._given:
            self._given[wanted] = self.fresh(wanted)
        return self._given[wanted]

    def fresh(self, wanted: str) -> str:
        """A new identifier as close to `wanted` as is free."""
        base = _ILLEGAL.sub("_", wanted) or "_"
        if base[0].isdigit():
            base = f"_{base}"
        candidate, n = base, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{base}_{n}"
        self._taken.add(candidate)
        return candidate


def literal(value: Any) -> str:
    """Python source for a plain value: only numbers, booleans, None, strings and tuples/lists of
    them are accepted, and strings are escaped by repr, so no spec text can become code."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot emit the non-finite number {value!r}")
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = ", ".join(literal(v) for v in value)
        return (
            f"({items},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({items})" if isinstance(value, tuple) else f"[{items}]")
        )
    raise TypeError(f"cannot emit a {type(value).__name__} as a literal")


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
        return "".join(f"{name} = {value}\n" for name, value in self.lines.items())
