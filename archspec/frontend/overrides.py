"""`--set KEY=VALUE`: a change to a spec from the command line, as Hydra and Ultralytics take them.

    archspec summary inception_v4 --set params.num_classes=10 --set input.shape=[149,149,3]

KEY is a dotted path of mapping keys (`blocks.block35.params.scale`), which enters a list by the
`name:` of one of its items (`network.stem.with.width`); VALUE is YAML, read by the
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
from archspec.frontend.loader import Map, Seq, load_text, position_of

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
        path, tree = _into_lists(document, key.split("."), load_text(value, where.file), where, schema.schema())
        check_keys(document, path, tree, where)
        document = merge(document, _nested(path, tree, where), where)
    problems = schema.validate(document, document.pos)
    if problems:
        raise SpecError(problems)
    return document


def _nested(path: Sequence[str], tree: Any, where: Pos) -> Any:
    """`{a: {b: tree}}` for the path a.b, each mapping placed at the override."""
    for part in reversed(path):
        holder = Map()
        holder.pos, holder.key_pos, holder.value_pos = where, {part: where}, {part: position_of(tree, where)}
        holder[part] = tree
        tree = holder
    return tree


def _into_lists(document: Any, path: Sequence[str], tree: Any, where: Pos, rules: Any) -> tuple[list[str], Any]:
    """The override as a path of mapping keys only: where the path enters a list (`network`, a
    block's `body`) by the `name:` of one of its items (`network.mixed_6a.with.k`), the list
    with that item changed, set whole at the path to the list. SpecError, located at the
    override, for a name no item has."""
    holder = document
    for depth, part in enumerate(path):
        if isinstance(holder, list):
            names = [item.get("name") if isinstance(item, dict) else None for item in holder]
            shown = ".".join(path[:depth])
            if part not in names:
                known = sorted(str(name) for name in names if name is not None)
                hint = did_you_mean(part, known) or (
                    f"named here: {', '.join(known[:12])}" if known else "give the item a name: to set a key of it"
                )
                raise SpecError.at(where, f"no item named '{part}' in the list '{shown}'", hint=hint)
            index, item_rules = names.index(part), _items(rules)
            rest, inner = _into_lists(holder[index], path[depth + 1 :], tree, where, item_rules)
            if rest:
                check_keys(holder[index], rest, inner, where, item_rules, new_names=True)
            changed = Seq(holder)
            changed.pos, changed.item_pos = getattr(holder, "pos", where), list(getattr(holder, "item_pos", []))
            changed[index] = merge(holder[index], _nested(rest, inner, where), where) if rest else inner
            return list(path[:depth]), changed
        holder = holder.get(part) if isinstance(holder, dict) else None
        rules = _keys(rules).get(part, _user_named(rules) or {})
    return list(path), tree


def check_keys(
    document: Map, path: Sequence[str], value: Any, where: Pos, rules: Any = None, new_names: bool = False
) -> None:
    """SpecError, located at the override, unless every key of `path`, and of `value` where it
    is a mapping that will be merged key by key, names a key of `document` or one the schema
    allows there. With `new_names` (inside a step: its `with:` names the block's parameters,
    which the expansion checks), a key the author names may be new."""
    if path[0] in LINKED:
        raise SpecError.at(
            where,
            f"'{path[0]}' is resolved before --set applies, so an override cannot change it",
            hint=f"write a variant file with '{path[0]}:' instead",
        )
    top = rules
    rules = schema.schema() if rules is None else rules
    holder: Any = document
    for depth, part in enumerate(path):
        shown = ".".join(path[:depth])
        if holder is not None and not isinstance(holder, dict):
            raise SpecError.at(where, f"'{shown}' is {shown_value(holder)}, not a mapping")
        named = _keys(rules)
        if holder is not None and part in holder:
            holder, rules = holder[part], named.get(part, _user_named(rules))
        elif part in named:
            holder, rules = None, named[part]
        elif new_names and _user_named(rules) is not None:
            holder, rules = None, _user_named(rules)
        else:
            known = sorted((set(holder or ()) | (set() if _user_named(rules) else set(named))) - set(LINKED))
            hint = did_you_mean(part, known) or (f"known here: {', '.join(known[:12])}" if known else None)
            raise SpecError.at(where, f"unknown key '{part}'" + (f" in '{shown}'" if depth else ""), hint=hint)
    if isinstance(value, dict) and isinstance(holder, dict):  # merged key by key: each must exist
        for key, inner in value.items():
            check_keys(document, [*path, str(key)], inner, where, top, new_names)


def _resolved(rules: Any) -> dict[str, Any]:
    root = schema.schema()
    while isinstance(rules, dict) and "$ref" in rules:
        rules = root["$defs"][rules["$ref"].rsplit("/", 1)[1]]
    return rules if isinstance(rules, dict) else {}


def _items(rules: Any) -> Any:
    """The rules for the items of a list a schema position takes (alternatives included)."""
    rules = _resolved(rules)
    for alternative in (*rules.get("anyOf", ()), *rules.get("oneOf", ()), *rules.get("allOf", ())):
        found = _items(alternative)
        if found:
            return found
    return rules.get("items", {})


def _keys(rules: Any) -> dict[str, Any]:
    """The keys a schema position names, each with its own rules (alternatives included)."""
    rules = _resolved(rules)
    found: dict[str, Any] = {}
    branches = [rules[k] for k in ("then", "else") if k in rules]  # a step's kinds: if op, then ...
    for alternative in (*rules.get("anyOf", ()), *rules.get("oneOf", ()), *rules.get("allOf", ()), *branches):
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
