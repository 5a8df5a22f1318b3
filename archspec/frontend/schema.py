"""Check a loaded spec file against the JSON Schema and say what is wrong in plain words, where."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from archspec import ops
from archspec.errors import Diagnostic, Pos, did_you_mean, printable
from archspec.frontend.loader import Map, Seq

SCHEMA_PATH = Path(__file__).parent.parent / "schema" / "spec.schema.json"  # where editors are pointed at it


@cache
def schema() -> dict[str, Any]:
    """The spec schema: the file editors read, with each op kind's part as its definition says
    (`tests/test_op_registry.py` checks that the file is up to date; `make schema` rewrites it)."""
    with SCHEMA_PATH.open(encoding="utf-8") as f:
        written: dict[str, Any] = json.load(f)
    return with_op_kinds(written)


def with_op_kinds(rules: dict[str, Any]) -> dict[str, Any]:
    """`rules` with `$defs/op_<kind>`, `$defs/op_step`, the kinds `defaults:` may name and the
    activation names derived from the op registry."""
    defs: dict[str, Any] = {}
    for key, value in rules["$defs"].items():
        if key == "op_step":
            defs.update({f"op_{k.name}": _op_schema(k) for k in ops.REGISTRY.values() if k.in_network})
            defs["op_step"] = _op_step()
        elif key == "activation":  # the names the backends implement, as ops.ACTIVATIONS lists them
            names = list(ops.ACTIVATIONS)
            defs[key] = {**value, "anyOf": [{"enum": names}, *value["anyOf"][1:]]}
            defs[key]["description"] = "one of " + ", ".join(names)
        elif not key.startswith("op_"):
            defs[key] = value
    properties = dict(rules["properties"])
    kinds = [k.name for k in ops.REGISTRY.values() if k.in_network]
    per_kind = {k.name: _attribute_schema(k) for k in ops.REGISTRY.values() if k.in_network}
    properties["defaults"] = {**properties["defaults"], "propertyNames": {"enum": kinds}, "properties": per_kind}
    return {**rules, "properties": properties, "$defs": defs}


_OPERANDS: dict[str, dict[str, Any]] = {
    "previous": {},
    "inputs": {"inputs": {"type": "array", "items": {"$ref": "#/$defs/ref"}, "minItems": 1}},
    "shortcut": {"shortcut": {"$ref": "#/$defs/ref"}, "residual": {"$ref": "#/$defs/ref"}},
    "like": {"like": {"$ref": "#/$defs/ref"}},
}
_REQUIRED_OPERANDS = {"previous": [], "inputs": ["inputs"], "shortcut": ["shortcut"], "like": []}


def _op_schema(kind: ops.OpKind) -> dict[str, Any]:
    properties = {"op": {"type": "string"}, "name": {"$ref": "#/$defs/name"}, "input": {"$ref": "#/$defs/ref"}}
    properties.update(_OPERANDS[kind.operands])
    properties.update({attr: {"$ref": f"#/$defs/{ops.SCHEMA_TYPES[attr]}"} for attr in kind.attrs})
    # Attributes without a default are not required here: `defaults:` may give them (a conv's
    # kernel for every conv), which only the expander, merging the two, can see.
    required = _REQUIRED_OPERANDS[kind.operands]
    return {
        "type": "object",
        "description": kind.description,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _attribute_schema(kind: ops.OpKind) -> dict[str, Any]:
    """What `defaults:` may set for one kind: its attributes."""
    properties = {attr: {"$ref": f"#/$defs/{ops.SCHEMA_TYPES[attr]}"} for attr in kind.attrs}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _op_step() -> dict[str, Any]:
    names = [k.name for k in ops.REGISTRY.values() if k.in_network]
    return {
        "type": "object",
        "required": ["op"],
        "properties": {"op": {"enum": names}},
        "allOf": [{"if": {"properties": {"op": {"const": n}}}, "then": {"$ref": f"#/$defs/op_{n}"}} for n in names],
    }


def write() -> None:
    """Rewrite the schema file with the op kinds' parts as the registry says."""
    with SCHEMA_PATH.open(encoding="utf-8") as f:
        written = json.load(f)
    text = json.dumps(with_op_kinds(written), indent=2, ensure_ascii=False) + "\n"
    SCHEMA_PATH.write_text(text, encoding="utf-8")


def _by_kind(validator: Any, kinds: dict[str, Any], instance: Any, rules: dict[str, Any]) -> Any:
    """The keyword `opKind`: an op step checked against its own kind's part of the schema only."""
    if isinstance(instance, dict) and isinstance(instance.get("op"), str) and instance["op"] in kinds:
        yield from validator.descend(instance, kinds[instance["op"]])


# The schema file dispatches an op step to its kind with one if/then per kind, which any editor
# understands; checking thousands of steps that way evaluates every `if` of every step. The
# validator archspec runs replaces them with one keyword that looks the kind up: the same rules,
# in time linear in the steps, and the same errors at the same places. (`extend` is unannotated.)
_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"opKind": _by_kind})  # type: ignore[no-untyped-call]


@cache
def _validator(variant: bool = False) -> Any:
    """The schema's validator; for a variant (a file with `extends`), a block may leave out its
    `body`: it then overrides only what it gives (its params, its description) of the base's
    block, and the linker checks that the merged block has a body."""
    rules = copy.deepcopy(schema())
    if variant:
        rules["$defs"]["block"]["required"] = []
    step = rules["$defs"]["op_step"]
    step["opKind"] = {branch["if"]["properties"]["op"]["const"]: branch["then"] for branch in step.pop("allOf")}
    return _Validator(_inlined(rules))


def _inlined(rules: dict[str, Any]) -> dict[str, Any]:
    """The rules with every `$ref` to a definition that refers to nothing written in its place:
    looking a reference up costs more than checking what it names (a spec's attributes refer to
    `size2`, `padding`, ... thousands of times). The recursive ones (steps in blocks) stay."""
    defs = rules["$defs"]

    def refers(item: Any) -> bool:
        if isinstance(item, dict):
            return "$ref" in item or any(refers(v) for v in item.values())
        return isinstance(item, list) and any(refers(v) for v in item)

    def inline(item: Any) -> Any:
        if isinstance(item, dict):
            target = item.get("$ref", "")
            name = target.rpartition("/")[2]
            if len(item) == 1 and target.startswith("#/$defs/") and not refers(defs.get(name, {"$ref": ""})):
                return defs[name]
            return {k: inline(v) for k, v in item.items()}
        return [inline(v) for v in item] if isinstance(item, list) else item

    for _ in range(4):  # each pass inlines one more level of definitions that refer only to leaves
        defs = {name: inline(value) for name, value in defs.items()}
    return {**inline({k: v for k, v in rules.items() if k != "$defs"}), "$defs": defs}


def validate(tree: Any, file_pos: Pos) -> list[Diagnostic]:
    """Every schema violation in one file's tree, each at the YAML position it concerns."""
    if not isinstance(tree, Map):
        return [Diagnostic(position_of(tree, file_pos), "a spec must be a YAML mapping at the top")]
    found = []
    for error in _validator("extends" in tree).iter_errors(tree):
        found.extend(_explain(error, tree))
    return found


def position_of(value: Any, fallback: Pos) -> Pos:
    return value.pos if isinstance(value, (Map, Seq)) else fallback


def _locate(tree: Map, path: list[Any]) -> tuple[Any, Pos, str]:
    """The container holding the last path element, the element's position, and its key name."""
    node: Any = tree
    pos, key = tree.pos, ""
    for step in path:
        if isinstance(node, Map):
            pos, key = node.at(step), str(step)
        elif isinstance(node, Seq):
            pos, key = node.at(step), ""
        node = node[step]
    return node, pos, key


def _what(key: str, instance: Any) -> str:
    """How to call the value in a message: by its key, or by what it holds."""
    if key:
        return f"'{key}'"
    if isinstance(instance, dict) and isinstance(instance.get("op"), str):
        return f"this {instance['op']} step"
    return "this item"


def _explain(error: ValidationError, tree: Map) -> list[Diagnostic]:
    instance, pos, key = _locate(tree, list(error.absolute_path))
    kind, schema_here = error.validator, _as_dict(error.schema)
    expected: Any = error.validator_value
    described = str(schema_here.get("description", ""))
    if kind == "additionalProperties" and isinstance(instance, Map):
        allowed = list(schema_here.get("properties", {}))
        owner = f"in {instance['op']}" if isinstance(instance.get("op"), str) else "here"
        return [
            Diagnostic(
                instance.key_pos.get(extra, pos),
                f"unknown key '{printable(str(extra))}' {owner}",
                did_you_mean(extra, allowed) or f"allowed keys: {', '.join(allowed)}",
            )
            for extra in instance
            if extra not in allowed
        ]
    if kind == "required":
        missing = [name for name in expected if name not in instance]
        if described and missing == ["op"]:
            close = next(filter(None, (did_you_mean(k, ["op", "block", "branches"]) for k in instance)), None)
            return [Diagnostic(pos, f"{described}; found keys: {', '.join(instance) or 'none'}", close)]
        return [Diagnostic(pos, f"{_what(key, instance)} needs '{name}'") for name in missing]
    if kind == "enum" and key == "op":
        choices = list(expected)
        hint = did_you_mean(str(instance), choices) or f"op kinds: {', '.join(choices)}"
        return [Diagnostic(pos, f"unknown op '{printable(str(instance))}'", hint)]
    if kind == "propertyNames":
        return [_bad_name(error, tree)]
    if kind in ("anyOf", "oneOf") and described:
        close = did_you_mean(instance, _enum_values(schema_here)) if isinstance(instance, str) else None
        return [Diagnostic(pos, f"{_what(key, instance)} must be {described}, got {instance!r}", close)]
    return [Diagnostic(pos, f"{_what(key, instance)}: {_plain(error)}")]


def _bad_name(error: ValidationError, tree: Map) -> Diagnostic:
    container, pos, _ = _locate(tree, list(error.absolute_path))
    bad = next((c.instance for c in error.context or []), None)
    names_schema: Any = error.validator_value
    if isinstance(container, Map) and isinstance(bad, str):
        pos = container.key_pos.get(bad, pos)
        if "enum" in names_schema:
            choices = names_schema["enum"]
            return Diagnostic(pos, f"'{printable(bad)}' is not an op kind", did_you_mean(bad, choices))
    return Diagnostic(pos, f"'{printable(str(bad))}' is not a valid name", "names use letters, digits and _")


def _enum_values(schema_here: dict[str, Any]) -> list[str]:
    return [v for sub in schema_here.get("anyOf", []) for v in sub.get("enum", [])]


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _plain(error: ValidationError) -> str:
    kind = error.validator
    expected: Any = error.validator_value
    got: Any = error.instance
    if kind == "type":
        article = "an " if isinstance(expected, str) and expected[:1] in "aeiou" else "a "
        return f"expected {article + expected if isinstance(expected, str) else expected}, got {got!r}"
    if kind == "minItems":
        return f"needs at least {expected} item{'s' if expected != 1 else ''}"
    if kind == "maxItems":
        return f"takes at most {expected} items, got {len(got)}"
    if kind == "minProperties":
        return "must not be empty"
    if kind == "minimum":
        return f"must be at least {expected}, got {got!r}"
    if kind == "const":
        return f"must be {expected!r}, got {got!r}"
    if kind == "pattern":
        described = _as_dict(error.schema).get("description")
        return f"must be {described or 'a string matching ' + str(expected)}, got {got!r}"
    return error.message
