"""`--set KEY=VALUE`: a change to a spec from the command line, as Hydra and Ultralytics take them.

    archspec summary inception_v4 --set params.num_classes=10 --set input.shape=[149,149,3]

KEY is a dotted path of mapping keys (`blocks.block35.params.scale`); VALUE is YAML, read by the
spec loader with its limits. Each override is merged over the linked spec as a variant's values
are (mappings key by key, anything else replaced whole), in the order given, and the result is
checked against the schema like any spec, so a bad override is reported at `--set KEY:1:COL`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from archspec import schema
from archspec.errors import Pos, SpecError
from archspec.linker import merge
from archspec.loader import Map, load_text, position_of

KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}(\.[A-Za-z_][A-Za-z0-9_]{0,99}){0,15}")


def split(text: str) -> tuple[str, str]:
    """(KEY, VALUE) of one `--set KEY=VALUE`; ValueError, a usage error, when it is not that."""
    key, equals, value = text.partition("=")
    if not equals or not KEY.fullmatch(key):
        shown = text if len(text) <= 60 else f"{text[:40]}..."
        raise ValueError(
            f"--set takes KEY=VALUE with KEY a dotted path of names (params.num_classes=10), not '{shown}'"
        )
    return key, value


def apply(document: Map, overrides: Sequence[str]) -> Map:
    """The linked document with every override merged over it, checked against the schema."""
    if not overrides:
        return document
    for text in overrides:
        key, value = split(text)
        where = Pos(f"--set {key}", 1, 1)
        tree = load_text(value, where.file)
        for part in reversed(key.split(".")):
            holder = Map()
            holder.pos, holder.key_pos, holder.value_pos = where, {part: where}, {part: position_of(tree, where)}
            holder[part] = tree
            tree = holder
        document = merge(document, tree, where)
    problems = schema.validate(document, document.pos)
    if problems:
        raise SpecError(problems)
    return document
