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
