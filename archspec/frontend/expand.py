"""Instantiate blocks with their parameters, unroll repeats and name every op instance.

The result is a flat list of IR nodes in the order written. Names are hierarchical and stable:
`<block instance>/<branch>/<op>_<n>`, where an unnamed op is numbered per kind within its scope
(`mixed_6b/branch_1/conv_2` is the third conv of that branch). References (`input`, `inputs`,
`shortcut`, `residual`, `like`, `outputs`, `features`) name nodes, never positions; they are looked up in the
enclosing scopes up to the block instance, whose `input` is the block's input. A reference may
point forward; cycles that this makes possible are caught by the lint stage.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from archspec import ops
from archspec.errors import Collector, Diagnostic, Pos, did_you_mean
from archspec.frontend import expr, preprocess
from archspec.frontend.loader import Map
from archspec.frontend.preprocess import Preprocess
from archspec.ir import Node, Step
from archspec.limits import MAX_GRAPH_NODES


@dataclass(frozen=True)
class Bound:
    """A parameter's value and where that value was written (what an error should point at)."""

    value: Any
    pos: Pos


@dataclass(eq=False)
class Scope:
    prefix: str
    parent: Scope | None
    closed: bool  # a block instance: names inside do not see names outside
    params: dict[str, Bound] | None = None
    names: dict[str, str | Ref] = field(default_factory=dict)
    children: dict[str, Scope] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def full(self, local: str) -> str:
        return f"{self.prefix}/{local}" if self.prefix else local

    def param_table(self) -> dict[str, Bound]:
        scope: Scope | None = self
        while scope is not None and scope.params is None:
            scope = scope.parent
        return scope.params if scope is not None and scope.params is not None else {}

    def auto_name(self, kind: str) -> str:
        while True:
            candidate = f"{kind}_{self.counts[kind]}"
            self.counts[kind] += 1
            if candidate not in self.names:
                return candidate

    def visible(self) -> list[str]:
        scope: Scope | None = self
        seen: list[str] = []
        while scope is not None:
            seen.extend(scope.names)
            scope = None if scope.closed else scope.parent
        return seen


@dataclass(frozen=True, eq=False)
class Ref:
    """A written reference to a node, resolved once every name in the spec is known."""

    text: str
    scope: Scope
    pos: Pos


@dataclass
class _Pending:
    name: str
    op: str
    inputs: list[str | Ref]
    attrs: dict[str, Any]
    pos: Pos
    attr_pos: dict[str, Pos]
    owner: tuple[str, str]
    sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Feature:
    """An entry of `features:`: as written, the node it names, and where."""

    text: str
    node: str
    pos: Pos


@dataclass(frozen=True)
class Expansion:
    name: str
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    steps: tuple[Step, ...]
    # Where outputs were chosen (the spec's `outputs:` or a caller's), or None when the output is
    # the last step: only chosen outputs may leave part of the network unused.
    chosen_at: Pos | None = None
    preprocess: Preprocess | None = None
    warnings: tuple[Diagnostic, ...] = ()  # values a variant or override sets that change nothing
    arguments: tuple[tuple[str, Any], ...] = ()  # the top-level params' values, by name
    # The network's own first output (the written `outputs:`'s first, else the last step), whatever
    # outputs a caller chose: its feature stages are found on the way to it (`archspec.analysis.stages`).
    network_output: str | None = None
    features: tuple[Feature, ...] | None = None  # the written `features:`, resolved


class _Abandon(Exception):
    """A step could not be expanded; its error is already collected."""


def expand(
    doc: Map,
    default_name: str,
    errors: Collector,
    input_shape: tuple[int, int, int] | None = None,
    outputs: tuple[str, ...] | None = None,
    changed: Callable[[Pos], bool] = lambda pos: False,
) -> Expansion:
    """The document's network as IR nodes. `changed` tells the values a variant or an override
    wrote: each of those that nothing uses gets a warning, since it looks like a change and is none."""
    return _Expander(doc, errors).run(default_name, input_shape, outputs, changed)


def continued_names(written: Sequence[str], count: int) -> list[str]:
    """`count` instance names: those written, then the numbering of the last one continued
    (`mixed_5e` -> `mixed_5f`, `block12` -> `block13`, `stem` -> `stem_2`), so that any depth
    can be swept without writing every name."""
    names = list(written[:count])
    while len(names) < count:
        names.append(_next_name(names[-1]))
    return names


def _next_name(name: str) -> str:
    if digits := re.fullmatch(r"(.*?)([0-9]+)", name):
        prefix, number = digits.groups()
        return f"{prefix}{int(number) + 1:0{len(number)}d}"
    if letters := re.fullmatch(r"(.*[0-9_])([a-z]+|[A-Z]+)", name):
        prefix, tail = letters.groups()
        first = "a" if tail.islower() else "A"
        value = 0
        for ch in tail:  # letters as a bijective base-26 number: z is followed by aa
            value = value * 26 + ord(ch) - ord(first) + 1
        value += 1
        out = ""
        while value:
            value, digit = divmod(value - 1, 26)
            out = chr(ord(first) + digit) + out
        return prefix + out
    return f"{name}_2"


class _Expander:
    def __init__(self, doc: Map, errors: Collector):
        self.doc = doc
        self.errors = errors
        self.defaults_used: set[tuple[str, str]] = set()  # (block, parameter) whose default an instance took
        self.read: set[int] = set()  # id() of every Bound a reference resolved to
        self.instantiated: set[str] = set()  # the blocks with at least one instance
        self.blocks: Map = doc.get("blocks", Map())
        self.defaults: Map = doc.get("defaults", Map())
        self.pending: list[_Pending] = []
        self.steps: list[Step] = []
        self.preprocess: Preprocess | None = None
        self.stack: list[str] = []
        params: Map = doc.get("params", Map())
        self.globals: dict[str, Bound] = {}
        for key, value in params.items():  # a parameter may be computed from those above it
            scope = Scope("", None, closed=True, params=dict(self.globals))
            try:
                self.globals[key] = Bound(*self._substitute(value, params.at(key), scope))
            except _Abandon:
                continue

    def run(
        self,
        default_name: str,
        input_shape: tuple[int, int, int] | None,
        chosen: tuple[str, ...] | None,
        changed: Callable[[Pos], bool],
    ) -> Expansion:
        root = Scope("", None, closed=True, params=self.globals)
        self._add_input(root, input_shape)
        network = self.doc.get("network")
        if network is None:
            self.errors.error(self.doc.pos, "spec has no 'network' (and extends nothing that has one)")
            return Expansion(default_name, (), (), ())
        prev: str | Ref = "input"
        for step in network:
            try:
                prev = self._step(step, root, prev, None)
            except _Abandon:
                continue
        written = self.doc.get("outputs")
        own: list[str | Ref] = [prev]
        chosen_at = None
        if written:
            chosen_at = self.doc.key_pos.get("outputs", self.doc.pos)
            own = [Ref(text, root, written.at(i)) for i, text in enumerate(written)]
        outputs = own
        if chosen:
            chosen_at = self.doc.pos
            outputs = [Ref(text, root, chosen_at) for text in chosen]
        nodes = tuple(self._finish(p) for p in self.pending)
        resolved = tuple(name for name in (self._resolve(o) for o in outputs) if name)
        network_output = self._resolve(own[0]) if chosen else next(iter(resolved), None)
        features = None
        if (listed := self.doc.get("features")) is not None:
            refs = [Ref(text, root, listed.at(i)) for i, text in enumerate(listed)]
            features = tuple(Feature(ref.text, node, ref.pos) for ref in refs if (node := self._resolve(ref)))
        name = str(self.doc.get("name", default_name))
        warnings = self._unused(changed)
        arguments = tuple((key, bound.value) for key, bound in self.globals.items())
        return Expansion(
            name,
            nodes,
            resolved,
            tuple(self.steps),
            chosen_at,
            self.preprocess,
            warnings,
            arguments,
            network_output,
            features,
        )

    def _unused(self, changed: Callable[[Pos], bool]) -> tuple[Diagnostic, ...]:
        """Warnings for the parameter values a variant or override changed that nothing uses: a
        network parameter no step reads, a block's default that every instance overrides."""
        found = []
        params: Map = self.doc.get("params", Map())
        for key, bound in self.globals.items():
            if id(bound) not in self.read and changed(params.at(key)):
                message = f"parameter '{key}' changes nothing: no step or block reads ${key}"
                found.append(Diagnostic(params.at(key), message, severity="warning"))
        for block_name, block in self.blocks.items():
            declared: Map = block.get("params", Map())
            for key, default in declared.items():
                if default is None or block_name not in self.instantiated or (block_name, key) in self.defaults_used:
                    continue
                if changed(declared.at(key)):
                    message = (
                        f"the default {key} of block '{block_name}' changes nothing: every instance "
                        f"passes its own '{key}' under 'with:'"
                    )
                    hint = f"change the 'with:' of the '{block_name}' steps, or remove '{key}' there to use the default"
                    found.append(Diagnostic(declared.at(key), message, hint, severity="warning"))
        return tuple(found)

    def _add_input(self, root: Scope, override: tuple[int, int, int] | None) -> None:
        spec_input = self.doc.get("input")
        if spec_input is None or "shape" not in spec_input:
            where = self.doc.pos if spec_input is None else spec_input.pos
            self.errors.error(where, "spec has no input shape", hint="add input: {shape: [299, 299, 3]}")
            shape: Any = (1, 1, 1)
            pos = self.doc.pos
        else:
            pos = spec_input.at("shape")
            try:
                shape = override or self._canonical("input", {"shape": spec_input["shape"]}, {"shape": pos})["shape"]
            except _Abandon:  # reported; the rest of the network is still checked
                shape = (1, 1, 1)
            self.preprocess = preprocess.from_input(spec_input, shape[2], self.errors, spec_input.at)
        root.names["input"] = "input"
        self.pending.append(_Pending("input", "input", [], {"shape": shape}, pos, {"shape": pos}, ("input", "input")))

    # -- steps ---------------------------------------------------------------------------------

    def _step(self, step: Map, scope: Scope, prev: str | Ref, owner: tuple[str, str] | None) -> str:
        source: str | Ref = Ref(step["input"], scope, step.at("input")) if "input" in step else prev
        if "op" in step:
            return self._op_step(step, scope, source, owner)
        if "branches" in step:
            return self._branches_step(step, scope, source, owner)
        return self._block_step(step, scope, source, owner)

    def _claim(self, scope: Scope, local: str, pos: Pos) -> str:
        if local in scope.names:
            self.errors.error(pos, f"name '{scope.full(local)}' is used twice", hint="give the step its own 'name'")
            raise _Abandon
        if len(self.pending) >= MAX_GRAPH_NODES:
            self.errors.error(pos, f"network expands to more than {MAX_GRAPH_NODES} nodes")
            raise _Abandon
        return scope.full(local)

    def _op_step(self, step: Map, scope: Scope, source: str | Ref, owner: tuple[str, str] | None) -> str:
        op = step["op"]
        local = step.get("name") or scope.auto_name(op)
        name = self._claim(scope, local, step.pos)
        scope.names[local] = name  # claimed even if the attributes are bad, to avoid follow-on errors
        given, where = self._attrs(op, step, scope)
        attrs = self._canonical(op, given, where, fallback=step.pos)
        sources = {key: raw for key, raw in step.items() if key not in ops.WIRING and expr.is_reference(raw)}
        inputs: list[str | Ref]
        operands = ops.kind(op).operands
        if operands == "inputs":
            inputs = [Ref(text, scope, step["inputs"].at(i)) for i, text in enumerate(step["inputs"])]
        elif operands == "shortcut":
            residual = Ref(step["residual"], scope, step.at("residual")) if "residual" in step else source
            inputs = [Ref(step["shortcut"], scope, step.at("shortcut")), residual]
        elif operands == "like" and "like" in step:
            inputs = [source, Ref(step["like"], scope, step.at("like"))]
        else:
            inputs = [source]
        self._emit(name, op, inputs, attrs, step.pos, where, owner or (name, op), sources)
        return name

    def _branches_step(self, step: Map, scope: Scope, source: str | Ref, owner: tuple[str, str] | None) -> str:
        # A named branches step gets its own namespace (`mixed_3a/branch_0/...`); an unnamed one
        # puts its branches in the enclosing scope, as a block made of one branches step wants.
        local = step.get("name") or scope.auto_name("concat")
        name = self._claim(scope, local, step.pos)
        owner = owner or (name, "branches")
        home = scope
        if "name" in step:
            home = scope.children[local] = Scope(name, scope, closed=False)
        outputs: list[str | Ref] = []
        for branch, steps in step["branches"].items():
            self._claim(home, branch, step["branches"].key_pos[branch])
            child = home.children[branch] = Scope(home.full(branch), home, closed=False)
            out: str | Ref = source
            for inner in steps:
                try:
                    out = self._step(inner, child, out, owner)
                except _Abandon:
                    continue
            home.names[branch] = out
            outputs.append(out)
        scope.names[local] = name
        self._emit(name, "concat", outputs, {}, step.pos, {}, owner)
        return name

    def _block_step(self, step: Map, scope: Scope, source: str | Ref, owner: tuple[str, str] | None) -> str:
        block_name = step["block"]
        block = self.blocks.get(block_name)
        if block is None:
            known = list(self.blocks)
            hint = did_you_mean(block_name, known) or f"blocks defined: {', '.join(known) or 'none'}"
            self.errors.error(step.at("block"), f"unknown block '{block_name}'", hint)
            raise _Abandon
        if block_name in self.stack:
            chain = " -> ".join([*self.stack, block_name])
            self.errors.error(step.at("block"), f"block '{block_name}' contains itself: {chain}")
            raise _Abandon
        params = self._bind(block, step, scope)
        repeat = self._count(step, scope)
        names = continued_names(step["names"], repeat) if "names" in step else None
        self.instantiated.add(block_name)
        base = step.get("name") or block_name
        out: str | Ref = source
        self.stack.append(block_name)
        try:
            for index in range(repeat):
                local = names[index] if names else (f"{base}_{index + 1}" if repeat > 1 else base)
                full = self._claim(scope, local, step.pos)
                inner = Scope(full, scope, closed=True, params={**self.globals, **params})
                inner.names["input"] = out
                scope.children[local] = inner
                instance_owner = owner or (full, block_name)
                for body_step in block["body"]:
                    try:
                        out = self._step(body_step, inner, out, instance_owner)
                    except _Abandon:
                        continue
                scope.names[local] = out
                if owner is None and isinstance(out, str):
                    self.steps.append(Step(full, block_name, out, step.pos))
        finally:
            self.stack.pop()
        if not isinstance(out, str):
            raise _Abandon
        return out

    # -- parameters and attributes --------------------------------------------------------------

    def _bind(self, block: Map, step: Map, scope: Scope) -> dict[str, Bound]:
        declared: Map = block.get("params", Map())
        args: Map = step.get("with", Map())
        bound: dict[str, Bound] = {}
        ok = True
        for key in args:
            if key not in declared:
                hint = did_you_mean(key, list(declared)) or f"parameters: {', '.join(declared) or 'none'}"
                self.errors.error(args.key_pos[key], f"block '{step['block']}' has no parameter '{key}'", hint)
                ok = False
                continue
            bound[key] = Bound(*self._substitute(args[key], args.at(key), scope))
        global_scope = Scope("", None, closed=True, params=self.globals)
        for key, default in declared.items():
            if key in bound:
                continue
            self.defaults_used.add((step["block"], key))
            if default is None:
                self.errors.error(
                    step.pos,
                    f"block '{step['block']}' needs parameter '{key}'",
                    hint=f"add it under 'with:', e.g. with: {{{key}: ...}}",
                )
                ok = False
                continue
            bound[key] = Bound(*self._substitute(default, declared.at(key), global_scope))
        if not ok:  # expanding the body without its parameters would only add follow-on errors
            raise _Abandon
        return bound

    def _count(self, step: Map, scope: Scope) -> int:
        if "repeat" not in step:
            return 1
        value, pos = self._substitute(step["repeat"], step.at("repeat"), scope)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.errors.error(pos, f"'repeat' must be a positive integer, got {value!r}")
            raise _Abandon
        if value > MAX_GRAPH_NODES:  # refused before a single instance is expanded
            self.errors.error(pos, f"'repeat' of {value} would expand to more than {MAX_GRAPH_NODES} nodes")
            raise _Abandon
        return value

    def _substitute(self, value: Any, pos: Pos, scope: Scope) -> tuple[Any, Pos]:
        """A written value with its parameter references replaced, and where the result came from."""
        if isinstance(value, dict):
            return {k: self._substitute(v, _at(value, k, pos), scope)[0] for k, v in value.items()}, pos
        if isinstance(value, list):
            return [self._substitute(v, pos, scope)[0] for v in value], pos
        if not expr.is_reference(value):
            return value, pos
        table = scope.param_table()
        name = value[1:]
        if name in table:  # a bare `$name` keeps the position of the value it stands for
            self.read.add(id(table[name]))
            return table[name].value, table[name].pos
        self.read.update(id(table[word]) for word in re.findall(r"[A-Za-z_]\w*", value) if word in table)
        try:
            return expr.resolve(value, {k: b.value for k, b in table.items()}), pos
        except expr.ExprError as exc:
            self.errors.error(pos, str(exc))
            raise _Abandon from None

    def _attrs(self, op: str, step: Map, scope: Scope) -> tuple[dict[str, Any], dict[str, Pos]]:
        defaults: Map = self.defaults.get(op, Map())
        given: dict[str, Any] = {}
        where: dict[str, Pos] = {}
        failed = False
        for source in (defaults, step):
            for key, raw in source.items():
                if key in ops.WIRING:
                    continue
                if key not in ops.OP_ATTRS[op]:
                    hint = did_you_mean(key, list(ops.OP_ATTRS[op]))
                    self.errors.error(source.key_pos.get(key, source.pos), f"unknown key '{key}' in {op}", hint)
                    continue
                try:
                    value, pos = self._substitute(raw, source.at(key), scope)
                except _Abandon:
                    failed = True
                    continue
                if isinstance(value, dict) and isinstance(given.get(key), dict):
                    value = {**given[key], **value}
                given[key], where[key] = value, pos
        if failed:
            raise _Abandon
        return given, where

    def _canonical(
        self, op: str, given: dict[str, Any], where: dict[str, Pos], fallback: Pos | None = None
    ) -> dict[str, Any]:
        attrs, problems = ops.canonical_attrs(op, given)
        for key, message in problems.items():
            self.errors.error(where.get(key, fallback or self.doc.pos), message)
        if problems:
            raise _Abandon
        return attrs

    # -- output ---------------------------------------------------------------------------------

    def _emit(
        self,
        name: str,
        op: str,
        inputs: list[str | Ref],
        attrs: dict[str, Any],
        pos: Pos,
        attr_pos: dict[str, Pos],
        owner: tuple[str, str],
        sources: dict[str, str] | None = None,
    ) -> None:
        self.pending.append(_Pending(name, op, inputs, attrs, pos, attr_pos, owner, sources or {}))
        if owner == (name, op) or owner == (name, "branches"):
            self.steps.append(Step(name, owner[1], name, pos))

    def _finish(self, p: _Pending) -> Node:
        inputs = tuple(name for name in (self._resolve(i) for i in p.inputs) if name)
        return Node(
            p.name,
            p.op,
            inputs,
            MappingProxyType(p.attrs),
            p.pos,
            MappingProxyType(p.attr_pos),
            p.owner[0],
            p.owner[1],
            MappingProxyType(p.sources),
        )

    def _resolve(self, ref: str | Ref, depth: int = 0) -> str | None:
        if isinstance(ref, str):
            return ref
        if depth > 100:
            self.errors.error(ref.pos, f"reference '{ref.text}' refers to itself")
            return None
        head, *rest = ref.text.split("/")
        scope: Scope | None = ref.scope
        while scope is not None and head not in scope.names:
            scope = None if scope.closed else scope.parent
        if scope is None:
            inside_block = ref.scope.prefix != ""
            visible = ref.scope.visible()
            hint = did_you_mean(head, visible) or (
                "a block sees only its own nodes and 'input'"
                if inside_block
                else f"names defined here: {', '.join(visible[:10])}{', ...' if len(visible) > 10 else ''}"
            )
            self.errors.error(ref.pos, f"unknown node '{ref.text}'", hint)
            return None
        path = [head, *rest]
        for part in path[:-1]:
            child = scope.children.get(part)
            if child is None:
                self.errors.error(ref.pos, f"'{part}' in '{ref.text}' is not a branch or block instance")
                return None
            scope = child
        entry = scope.names.get(path[-1])
        if entry is None:
            close = did_you_mean(path[-1], list(scope.names))
            self.errors.error(ref.pos, f"unknown node '{ref.text}'", close)
            return None
        return self._resolve(entry, depth + 1)


def _at(value: Any, key: str, fallback: Pos) -> Pos:
    return value.at(key) if isinstance(value, Map) else fallback
