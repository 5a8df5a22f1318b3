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
from typing import Any

from archspec.errors import Pos, SpecError, did_you_mean
from archspec.errors import shown as shown_value
from archspec.frontend import schema
from archspec.frontend.linker import merge
from archspec.frontend.loader import Map, load_text, position_of

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


PREFIX = "--set "  # the file name of an override's positions: errors point at `--set KEY:1:COL`
LINKED = ("include", "extends")  # resolved before any override applies: a variant file writes them


def apply(document: Map, overrides: Sequence[str]) -> Map:
    """The linked document with every override merged over it, checked against the schema.
    Every key an override names must be one the spec has, or one the schema lets it add there
    (`input.crop_pct`, `width.multiplier`): a mistyped key is an error, never a silent no-op."""
    if not overrides:
        return document
    for text in overrides:
        key, value = split(text)
        where = Pos(f"{PREFIX}{key}", 1, 1)
        tree = load_text(value, where.file)
        check_keys(document, key.split("."), tree, where)
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


def check_keys(document: Map, path: Sequence[str], value: Any, where: Pos) -> None:
    """SpecError, located at the override, unless every key of `path`, and of `value` where it
    is a mapping that will be merged key by key, names a key of `document` or one the schema
    allows there."""
    if path[0] in LINKED:
        raise SpecError.at(
            where,
            f"'{path[0]}' is resolved before --set applies, so an override cannot change it",
            hint=f"write a variant file with '{path[0]}:' instead",
        )
    rules = schema.schema()
    holder: Any = document
    for depth, part in enumerate(path):
        shown = ".".join(path[:depth])
        if isinstance(holder, list):
            raise SpecError.at(
                where, f"'{shown}' is a list, which --set replaces whole", hint=f"write {shown}=[...] with every item"
            )
        if holder is not None and not isinstance(holder, dict):
            raise SpecError.at(where, f"'{shown}' is {shown_value(holder)}, not a mapping")
        named = _keys(rules)
        if holder is not None and part in holder:
            holder, rules = holder[part], named.get(part, _user_named(rules))
        elif part in named:
            holder, rules = None, named[part]
        else:
            known = sorted((set(holder or ()) | (set() if _user_named(rules) else set(named))) - set(LINKED))
            hint = did_you_mean(part, known) or (f"known here: {', '.join(known[:12])}" if known else None)
            raise SpecError.at(where, f"unknown key '{part}'" + (f" in '{shown}'" if depth else ""), hint=hint)
    if isinstance(value, dict) and isinstance(holder, dict):  # merged key by key: each must exist
        for key, inner in value.items():
            check_keys(document, [*path, str(key)], inner, where)


def _resolved(rules: Any) -> dict[str, Any]:
    root = schema.schema()
    while isinstance(rules, dict) and "$ref" in rules:
        rules = root["$defs"][rules["$ref"].rsplit("/", 1)[1]]
    return rules if isinstance(rules, dict) else {}


def _keys(rules: Any) -> dict[str, Any]:
    """The keys a schema position names, each with its own rules (alternatives included)."""
    rules = _resolved(rules)
    found: dict[str, Any] = {}
    for alternative in (*rules.get("anyOf", ()), *rules.get("oneOf", ()), *rules.get("allOf", ())):
        found.update(_keys(alternative))
    found.update(rules.get("properties", {}))
    return found


def _user_named(rules: Any) -> Any:
    """The rules for the value of a key the spec's author names (a parameter, a block), or None
    where the position takes only the keys the schema names."""
    rules = _resolved(rules)
    if "pattern" in rules.get("propertyNames", {}):
        extra = rules.get("additionalProperties", {})
        return extra if isinstance(extra, dict) else {}
    return None
