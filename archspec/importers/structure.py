"""A flat list of ops, as an importer reads them off a model, written as the spec a person would
write: top-level blocks, block types whose differing numbers are parameters, repeats, and
branches that meet at a filter concat or a residual add.

The input is one `Layer` per op, in the order the model computes them, each with the module
scopes it was called in and the layers it reads. What a module is, is the importer's business;
this module only finds the structure:

1. **Blocks.** The top-level blocks are the modules just below the root, looking through
   containers (`features.6` of the Sequential `features`), whose ops read one tensor from
   outside and give the outside only their last. A module of one op, or one that breaks those
   rules, is written as top-level ops.
2. **Bodies.** A block's ops are a chain; a concat whose operands are chains from one fork (the
   concat's immediate dominator) is `branches:`, nested as deep as they go; an add or multiply
   of chains from one fork names its operands (`shortcut:`, `residual:`, `inputs:`). A body
   that is none of these refers to every operand by name, which the language allows anywhere.
3. **Block types.** Instances of one module class whose bodies differ only in attribute values
   are one type; each set of attribute values that differ together between its instances is a
   parameter, its default the most common value. Instances of one class that differ in
   structure are separate types (`bottleneck`, `bottleneck_downsample`).
4. **Repeats.** Consecutive instances of one type with equal parameters are one `repeat`.

`write` returns the spec text and, for each IR node the spec expands to, in the expander's
order (which is the order written), the id of its layer: what an importer carries weights by.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import networkx as nx
import yaml

from archspec import ops
from archspec.ops import OP_ATTRS

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INPUT = "input"  # what a body, and the network, call the tensor they start from
WIDTH = 110  # a branch of short ops is written on one line up to this width


@dataclass(frozen=True)
class Scope:
    """A module an op was called in: its path from the root, its class, and whether it only
    holds other modules (Sequential, ModuleList, ModuleDict)."""

    path: str
    type: str
    container: bool = False


@dataclass
class Layer:
    """One op of the model: its IR kind, every attribute as a spec writes it (`kernel: 1x7`),
    the ids of the layers it reads ("input" for the model's input; an add's are residual then
    shortcut), the modules it was called in, and the module it is, where it is one."""

    id: str
    op: str
    attrs: dict[str, Any]
    inputs: tuple[str, ...]
    scope: tuple[Scope, ...] = ()
    path: str | None = None


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    input: Mapping[str, Any]  # `input:` as written: shape, and preprocessing where known
    comment: str = ""  # lines of YAML comment at the top, each starting with "# "
    notes: tuple[str, ...] = ()  # what the spec could not take from the model, for the user


def identifier(text: str) -> str | None:
    """A spec name from a module path (`branch1.0` -> `branch1_0`), or None (`0`, `7`)."""
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", text)).strip("_").lower()[:60]
    return name if name and not name[0].isdigit() else None


def snake(class_name: str) -> str:
    """`InceptionA` -> `inception_a`, `Block35` -> `block35`, `Mixed_5b` -> `mixed_5b`."""
    return identifier(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", class_name)) or "block"


# -- bodies --------------------------------------------------------------------------------------


@dataclass
class Op:
    layer: Layer
    refs: dict[str, Any] = field(default_factory=dict)  # input / inputs / shortcut / residual / like


@dataclass
class Branches:
    branches: list[tuple[str, list[Any]]]
    concat: Layer


class _Unstructured(Exception):
    """A region that is not chains, branches and joins of chains: written with names instead."""


class Region:
    """The ops of one block instance, or the network's own, and the tensor they start from;
    it hands out the names that items refer to each other by."""

    def __init__(self, layers: Sequence[Layer], start: str, prefix: str):
        self.layers = {layer.id: layer for layer in layers}
        self.start, self.prefix = start, prefix
        self.users: dict[str, list[str]] = {}
        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_node(start)
        for layer in layers:
            for source in dict.fromkeys(layer.inputs):
                self.users.setdefault(source, []).append(layer.id)
                graph.add_edge(source, layer.id)
        reachable = nx.descendants(graph, start) | {start}
        self.dominators = nx.immediate_dominators(graph.subgraph(reachable), start)
        self.names: dict[str, str] = {}
        self.taken: set[str] = {INPUT}

    def local(self, layer: Layer) -> str | None:
        """A layer's module path inside the region (`branch1.0` of `features.6.branch1.0`)."""
        if layer.path is None:
            return None
        return layer.path.removeprefix(self.prefix + ".") if self.prefix else layer.path

    def name(self, lid: str) -> str:
        """The name of a layer that something refers to: `input` for the start, else a name
        from its module path (or its kind), unique in the region."""
        if lid == self.start:
            return INPUT
        if lid not in self.names:
            layer = self.layers[lid]
            base = identifier(self.local(layer) or "") or layer.op
            name, k = base, 1
            while name in self.taken:
                k += 1
                name = f"{base}_{k}"
            self.taken.add(name)
            self.names[lid] = name
        return self.names[lid]

    def sequence(self, end: str, start: str) -> list[Any]:
        """The items that compute `end` from `start`; every op in them is read only by the next."""
        if end == start:
            return []
        layer = self.layers.get(end)
        if layer is None:
            raise _Unstructured(end)
        if ops.kind(layer.op).sums_widths and len(layer.inputs) > 1:
            fork = self._fork(layer, start)
            branches = [self.sequence(operand, fork) for operand in layer.inputs]
            if any(not branch for branch in branches):
                raise _Unstructured(end)  # an operand that is the fork itself has no branch
            self._check_closed(branches, end)
            names = self._branch_names(branches)
            return [*self.sequence(fork, start), Branches(list(zip(names, branches, strict=True)), layer)]
        operands = ops.kind(layer.op).operands
        if operands not in ("previous", "like"):  # an add or a multiply: operands it names
            return self._joined(layer, start)
        if len(layer.inputs) != 1 and operands == "previous":
            raise _Unstructured(end)
        source, *like = layer.inputs
        if source != start and len(self.users.get(source, [])) != 1:
            raise _Unstructured(end)
        items = self.sequence(source, start)
        op = Op(layer)
        if like:  # a resize to the size of the region's input or of an op of its own chain
            if like[0] != start and like[0] not in _ids(items):
                raise _Unstructured(end)
            op.refs["like"] = self.name(like[0])
        return [*items, op]

    def _fork(self, layer: Layer, start: str) -> str:
        fork = self.dominators.get(layer.id)
        if fork is None or (fork != start and fork not in self.layers):
            raise _Unstructured(layer.id)
        return str(fork)

    def _check_closed(self, chains: Sequence[Sequence[Any]], end: str) -> None:
        """Each chain's ops are read only inside it, or by `end`, and no op is in two."""
        ids = [_ids(chain) for chain in chains]
        for index, mine in enumerate(ids):
            if mine & set().union(*(ids[:index] + ids[index + 1 :])):
                raise _Unstructured(end)
            if any(u not in mine and u != end for i in mine for u in self.users.get(i, [])):
                raise _Unstructured(end)

    def _joined(self, layer: Layer, start: str) -> list[Any]:
        """An add or multiply of chains from one fork: the fork's items, then each operand's
        chain (the second starting with `input:` the fork), then the op naming its operands."""
        fork = self._fork(layer, start)
        chains = [self.sequence(operand, fork) for operand in layer.inputs]
        self._check_closed(chains, layer.id)
        items = self.sequence(fork, start)
        refs = []
        for index, chain in enumerate(chains):
            if chain and (index or items) and (_last(items) if items else start) != fork:
                if not isinstance(chain[0], Op):
                    raise _Unstructured(layer.id)  # a chain that starts with branches names no input
                chain[0].refs["input"] = self.name(fork)
            items += chain
            refs.append(self.name(_last(chain) if chain else fork))
        op = Op(layer)
        if ops.kind(layer.op).operands == "inputs":
            op.refs["inputs"] = refs
        else:
            op.refs["shortcut"] = refs[1]
            if not (chains[0] and not chains[1]):  # else the residual is the step before it
                op.refs["residual"] = refs[0]
        return [*items, op]

    def _branch_names(self, branches: Sequence[Sequence[Any]]) -> list[str]:
        """Each branch after the modules its ops come from: `branch1` for `branch1.0` and
        `branch1.1`, or for `branch1_0`, `branch1_1a` and `branch1_1b`; else `branch_K`."""
        names: list[str] = []
        for index, branch in enumerate(branches):
            heads = [(self.local(layer) or "").split(".")[0] for layer in _layers(branch)]
            heads = [h for h in heads if h]
            common = heads[0] if heads and len(set(heads)) == 1 else _shared_stem(heads)
            name = identifier(common)
            if name is None or name in names or name == INPUT:
                name = f"branch_{index}"
            names.append(name)
        return names


def _shared_stem(words: Sequence[str]) -> str:
    """The part before the last `_` that all words share (`branch1` of `branch1_0`, `branch1_1a`),
    or the whole of one of them that the others extend."""
    if not words:
        return ""
    first, last = min(words), max(words)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    stem = first[:size]
    if stem in words:  # `right` of `right`, `right_a`, `right_b`
        return stem
    return stem[: stem.rfind("_")] if "_" in stem else ""


def _ids(items: Sequence[Any]) -> set[str]:
    found: set[str] = set()
    for item in items:
        if isinstance(item, Op):
            found.add(item.layer.id)
        else:
            found.add(item.concat.id)
            for _, branch in item.branches:
                found |= _ids(branch)
    return found


def _last(items: Sequence[Any]) -> str:
    item = items[-1]
    return item.layer.id if isinstance(item, Op) else item.concat.id


def _layers(items: Sequence[Any]) -> list[Layer]:
    """The layers of items in the order the expander makes their nodes: a concat after its branches."""
    found: list[Layer] = []
    for item in items:
        if isinstance(item, Op):
            found.append(item.layer)
        else:
            for _, branch in item.branches:
                found += _layers(branch)
            found.append(item.concat)
    return found


def body(layers: Sequence[Layer], start: str, prefix: str) -> tuple[list[Any], Region]:
    """The items of one region: structured where it can be, else each op in order, naming the
    operands that are not the op before it. Ops of the body itself (not inside branches) are
    named after their modules, as a person names the parts of a block (`conv1`, `up`)."""
    region = Region(layers, start, prefix)
    try:
        items = region.sequence(layers[-1].id, start)
    except _Unstructured:
        region = Region(layers, start, prefix)
        items = flat(region, layers, start)
    for item in items:
        if isinstance(item, Op) and region.local(item.layer):
            region.name(item.layer.id)
    branched = [item for item in items if isinstance(item, Branches)]
    if len(branched) > 1:  # unnamed branches steps share their block's names (a MixNet block's mixed convs)
        for item in branched:
            region.name(item.concat.id)
    return items, region


def flat(region: Region, layers: Sequence[Layer], start: str) -> list[Any]:
    items: list[Any] = []
    previous = start
    for layer in layers:
        op = Op(layer)
        operands = [region.name(source) for source in layer.inputs]
        if ops.kind(layer.op).operands == "shortcut":
            op.refs["shortcut"] = operands[1]
            if layer.inputs[0] != previous:
                op.refs["residual"] = operands[0]
        elif ops.kind(layer.op).operands == "inputs":
            op.refs["inputs"] = operands
        elif layer.inputs and layer.inputs[0] != previous:
            op.refs["input"] = operands[0]
        if ops.kind(layer.op).operands == "like" and len(operands) > 1:
            op.refs["like"] = operands[1]
        items.append(op)
        previous = layer.id
    return items


def shape_of(items: Sequence[Any], region: Region) -> tuple[Any, ...]:
    """A body without its attribute values: instances of equal shape are one block type."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, Op):
            attrs = tuple(sorted(item.layer.attrs))
            out.append((item.layer.op, region.names.get(item.layer.id), attrs, repr(item.refs)))
        else:
            branches = tuple((name, shape_of(branch, region)) for name, branch in item.branches)
            out.append((region.names.get(item.concat.id), branches))
    return tuple(out)


# -- writing -------------------------------------------------------------------------------------


def scalar(value: Any) -> str:
    """A YAML value as a spec writes it: a float always with its point (PyYAML reads `1e-05` as
    text), true and false, lists and mappings in flow style, names and enum values plain."""
    if value is None:
        return "~"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return text if "." in text else f"{text}.0"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if re.fullmatch(r"\$?[A-Za-z_][A-Za-z0-9_]*|[0-9]+x[0-9]+", text) and text not in ("true", "false", "null"):
        return text
    return quoted(text)


def quoted(text: str) -> str:
    """Any text as a double-quoted YAML scalar, written by the YAML emitter: every quote, line
    break and control character escaped, so no text can end the value or add a key."""
    return yaml.safe_dump(text, default_style='"', width=float("inf"), allow_unicode=True).strip()


def flow(entries: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in entries.items()) + "}"


def wrapped(line: str, indent: str) -> list[str]:
    """A long flow-style line broken after commas; YAML reads the continued lines as one."""
    lines: list[str] = []
    while len(line) > WIDTH and (cut := line.rfind(", ", 0, WIDTH)) > len(indent):
        lines.append(line[: cut + 1])
        line = indent + line[cut + 2 :]
    return [*lines, line]


def written(layer: Layer, values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes a spec writes for a layer: those that differ from its kind's defaults
    (and the spec's `defaults:`), and every one that is a parameter (`$name`)."""
    kind = {**OP_ATTRS[layer.op], **defaults.get(layer.op, {})}
    out = {}
    for attr, value in values.items():
        parameter = isinstance(value, str) and value.startswith("$")
        if not parameter and _implied(layer, attr, value, kind):
            continue
        out[attr] = value
    return out


def _implied(layer: Layer, attr: str, value: Any, kind: Mapping[str, Any]) -> bool:
    if attr == "bias" and kind.get("bias", False) is None:  # the default: a bias only where no batch norm absorbs it
        return bool(value) == (layer.attrs.get("bn") is False)
    if attr == "bn" and kind.get("bn") is True:
        return bool(value == {} or value == {"eps": 0.001})
    default = kind.get(attr)
    return bool(value == default or (isinstance(default, int) and value == [default, default]))


def _entries(layer: Layer, refs: Mapping[str, Any], values: Mapping[str, Any], name: str | None) -> dict[str, Any]:
    entries: dict[str, Any] = {"op": layer.op}
    if name:
        entries["name"] = name
    return {**entries, **refs, **values}


def lines_of(items: Sequence[Any], indent: str, region: Region, values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The YAML lines of a list of items, each `- ` at `indent`."""
    lines: list[str] = []
    for item in items:
        if isinstance(item, Op):
            entries = _entries(item.layer, item.refs, values[item.layer.id], region.names.get(item.layer.id))
            lines.append(f"{indent}- {flow(entries)}")
            continue
        name = region.names.get(item.concat.id)
        head = f"{indent}- "
        if name:
            lines.append(f"{head}name: {name}")
            head = f"{indent}  "
        lines.append(f"{head}branches:")
        for branch_name, branch in item.branches:
            prefix = f"{indent}    {branch_name}:"
            if all(isinstance(i, Op) for i in branch):
                ops = [_entries(i.layer, i.refs, values[i.layer.id], region.names.get(i.layer.id)) for i in branch]
                inline = "[" + ", ".join(flow(e) for e in ops) + "]"
                if len(prefix) + 1 + len(inline) <= WIDTH:
                    lines.append(f"{prefix} {inline}")
                    continue
            lines.append(prefix)
            lines += lines_of(branch, indent + "      ", region, values)
    return lines


# -- the network ---------------------------------------------------------------------------------


@dataclass
class Instance:
    path: str
    type: str  # the module's class
    layers: list[Layer]
    items: list[Any] = field(default_factory=list)
    region: Region | None = None
    block_type: str = ""
    values: dict[str, Any] = field(default_factory=dict)  # its parameters that differ from the defaults

    @property
    def entry(self) -> str:
        inside = {layer.id for layer in self.layers}
        return next(s for layer in self.layers for s in layer.inputs if s not in inside)

    @property
    def ordered(self) -> list[Layer]:
        return _layers(self.items)


def _block_scope(layer: Layer) -> Scope | None:
    """The block a layer belongs to: the first module below the root that is not a container."""
    return next((scope for scope in layer.scope if not scope.container), None)


def steps_of(layers: Sequence[Layer], outputs: Sequence[str]) -> list[Layer | Instance]:
    """The network's steps in order: block instances, and the layers that belong to none."""
    steps: list[Layer | Instance] = []
    seen: set[str] = set()
    for layer in layers:
        scope = _block_scope(layer)
        last = steps[-1] if steps else None
        if scope is None:
            steps.append(layer)
        elif isinstance(last, Instance) and last.path == scope.path:
            last.layers.append(layer)
        else:
            # A module called again, or whose ops interleave with another's, is not one block.
            path = scope.path if scope.path not in seen else f"{scope.path}#{len(steps)}"
            seen.add(scope.path)
            steps.append(Instance(path, scope.type, [layer]))
    users: dict[str, set[str]] = {}
    for layer in layers:
        for source in layer.inputs:
            users.setdefault(source, set()).add(layer.id)
    found: list[Layer | Instance] = []
    for step in steps:
        if isinstance(step, Layer) or _is_block(step, users, outputs):
            found.append(step)
        else:
            found += step.layers
    return found


def _is_block(instance: Instance, users: Mapping[str, set[str]], outputs: Sequence[str]) -> bool:
    if len(instance.layers) < 2 or "#" in instance.path:
        return False
    inside = {layer.id for layer in instance.layers}
    reads = {s for layer in instance.layers for s in layer.inputs if s not in inside}
    last = instance.layers[-1].id
    leaks = [i for i in inside if i != last and (users.get(i, set()) - inside or i in outputs)]
    return len(reads) == 1 and not leaks


def block_types(instances: Sequence[Instance]) -> dict[str, list[Instance]]:
    """Instances grouped into types, one class and one body shape each, in order of first use.
    The commonest shape of a class takes the class's name; another takes the name of the first
    module it has that the commonest lacks (`bottleneck_downsample`), else a number."""
    by_class: dict[str, dict[tuple[Any, ...], list[Instance]]] = {}
    for instance in instances:
        assert instance.region is not None
        by_class.setdefault(instance.type, {}).setdefault(shape_of(instance.items, instance.region), []).append(
            instance
        )
    types: dict[str, list[Instance]] = {}
    for class_name, shapes in by_class.items():
        ranked = sorted(shapes.values(), key=lambda members: -len(members))
        common = {_inner_path(ranked[0][0], layer) for layer in ranked[0][0].layers}
        for rank, members in enumerate(ranked):
            name = snake(class_name)
            if rank:
                extra = [_inner_path(members[0], layer) for layer in members[0].layers]
                found = next((identifier(e.split(".")[0]) for e in extra if e and e not in common), None)
                name = f"{name}_{found or rank + 1}"
            while name in types:
                name += "_b"
            types[name] = members
    first_use = {id(m): i for i, m in enumerate(instances)}
    return dict(sorted(types.items(), key=lambda item: min(first_use[id(m)] for m in item[1])))


def _inner_path(instance: Instance, layer: Layer) -> str:
    return (layer.path or "").removeprefix(instance.path + ".")


def parameters(members: Sequence[Instance]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The parameters of one block type: each set of attribute positions whose values differ
    together between its instances. A width is named after its op (`conv1_filters`), another
    attribute after itself where that is unique (`scale`). A value most instances share is the
    default, which the others override; a parameter without one is required (`~`) and every
    instance gives it, as a table of widths does. Returns the defaults, and the first instance's
    attribute values by layer id with parameters as `$name`; sets each member's `values`."""
    bodies = [member.ordered for member in members]
    _explicit_where_needed(bodies)
    first = bodies[0]
    columns: dict[tuple[Any, ...], list[tuple[int, str]]] = {}
    for index, layer in enumerate(first):
        for attr in layer.attrs:
            column = tuple(_frozen(body[index].attrs.get(attr)) for body in bodies)
            if len(set(column)) > 1:
                columns.setdefault(column, []).append((index, attr))
    attr_count = Counter(places[0][1] for places in columns.values())
    region = members[0].region
    assert region is not None
    names: dict[tuple[int, str], str] = {}
    defaults: dict[str, Any] = {}
    for column, places in columns.items():
        index, attr = places[0]
        owner = identifier(region.local(first[index]) or "")
        unique = attr_count[attr] == 1 and attr not in ("filters", "units")
        base = attr if unique or owner is None else f"{owner}_{attr}"
        name, k = base, 1
        while name in defaults:
            k += 1
            name = f"{base}_{k}"
        names.update({place: name for place in places})
        counts = Counter(column)
        common = max(counts, key=lambda v: (counts[v], -column.index(v)))
        default = common if 2 * counts[common] > len(column) else None
        defaults[name] = None if default is None else _thawed(default)
        for member, value in zip(members, column, strict=True):
            if value != default:
                member.values[name] = _thawed(value)
    values = {
        layer.id: {a: (f"${names[(i, a)]}" if (i, a) in names else v) for a, v in layer.attrs.items()}
        for i, layer in enumerate(first)
    }
    return defaults, values


def _explicit_where_needed(bodies: Sequence[Sequence[Layer]]) -> None:
    """Where one instance pads `same` and another explicitly (a bottleneck at stride 1 and 2),
    `same` is written as its explicit pads, half the kernel's reach (dilation included) each side
    (what it is at stride 1), so that one parameter does not have to be two."""
    for index in range(len(bodies[0])):
        column = [body[index].attrs.get("padding") for body in bodies]
        if "same" in column and any(isinstance(v, int | list) and v != 0 for v in column):
            for body in bodies:
                attrs = body[index].attrs
                if attrs.get("padding") == "same":
                    kernel = [int(k) for k in str(attrs["kernel"]).split("x")]
                    dilation = attrs.get("dilation", 1)
                    dilations = dilation if isinstance(dilation, list) else [dilation, dilation]
                    pads = [d * (k - 1) // 2 for k, d in zip(kernel, dilations, strict=True)]
                    attrs["padding"] = pads[0] if pads[0] == pads[1] else pads


class _Mapping(tuple):  # type: ignore[type-arg]
    """A mapping's items as a hashable value, told apart from a list of pairs."""


def _frozen(value: Any) -> Any:
    """An attribute value that can be counted and compared: lists as tuples, mappings as _Mapping."""
    if isinstance(value, dict):
        return _Mapping(sorted((k, _frozen(v)) for k, v in value.items()))
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _thawed(value: Any) -> Any:
    if isinstance(value, _Mapping):
        return {k: _thawed(v) for k, v in value}
    return [_thawed(v) for v in value] if isinstance(value, tuple) else value


def conv_defaults(layers: Sequence[Layer]) -> dict[str, dict[str, Any]]:
    """`defaults:`: for each kind with a batch norm, the one most of its layers have, where it is
    not the language's own."""
    found: dict[str, dict[str, Any]] = {}
    for op in (name for name, kind in ops.REGISTRY.items() if "bn" in kind.attrs):
        norms = [layer.attrs["bn"] for layer in layers if layer.op == op and layer.attrs.get("bn")]
        if norms:
            common = Counter(map(flow, norms)).most_common(1)[0][0]
            bn = next(norm for norm in norms if flow(norm) == common)
            if bn not in ({}, {"eps": 0.001}):
                found[op] = {"bn": bn}
    return found


def write(layers: Sequence[Layer], outputs: Sequence[str], header: Header) -> tuple[str, list[str]]:
    """The spec text of the model, and the layer id of each IR node it expands to, in order."""
    steps = steps_of(layers, outputs)
    instances = [s for s in steps if isinstance(s, Instance)]
    for instance in instances:
        instance.items, instance.region = body(instance.layers, instance.entry, instance.path)
    types = block_types(instances)
    defaults = conv_defaults(layers)
    classifier = _classifier(steps, outputs)

    lines = [header.comment] if header.comment else []
    lines += ["archspec: 1", f"name: {header.name}", f"description: {scalar(header.description)}"]
    if classifier is not None:
        lines.append(f"params: {{num_classes: {classifier.attrs['units']}}}")
    lines.append(f"input: {flow(header.input)}")
    if defaults:
        lines.append(f"defaults: {flow(defaults)}")
    if types:
        lines += ["", "blocks:"]
    for type_name, members in types.items():
        params, values = parameters(members)
        for member in members:
            member.block_type = type_name
        head = members[0]
        assert head.region is not None
        shown = {lid: written(head.region.layers[lid], v, defaults) for lid, v in values.items()}
        lines.append(f"  {type_name}:")
        if params:
            lines.append(f"    params: {flow(params)}")
        lines.append("    body:")
        lines += lines_of(head.items, "      ", head.region, shown)
    network, order = _network(steps, outputs, defaults, classifier)
    return "\n".join([*lines, "", "network:", *network]) + "\n", order


def _classifier(steps: Sequence[Layer | Instance], outputs: Sequence[str]) -> Layer | None:
    """The top-level dense layer that gives the first output: its units are the classes."""
    found = next((s for s in steps if isinstance(s, Layer) and outputs and s.id == outputs[0]), None)
    return found if found is not None and found.op in ops.OpGroup.CLASSIFYING else None


def _network(
    steps: Sequence[Layer | Instance],
    outputs: Sequence[str],
    defaults: Mapping[str, Any],
    classifier: Layer | None,
) -> tuple[list[str], list[str]]:
    """The `network:` lines, runs of alike instances as repeats, and the layers in node order."""
    top = Region([s for s in steps if isinstance(s, Layer)], INPUT, "")
    ends: dict[str, str] = {}
    unnamed = Counter(s.block_type for s in steps if isinstance(s, Instance) and identifier(s.path) is None)
    numbered: Counter[str] = Counter()
    for step in steps:
        if isinstance(step, Instance):
            name = identifier(step.path)
            if name is None or name in top.taken:  # a module that is only an index: named as repeats are
                name = step.block_type if unnamed[step.block_type] == 1 else None
                while name is None or name in top.taken:
                    numbered[step.block_type] += 1
                    name = f"{step.block_type}_{numbered[step.block_type]}"
            top.taken.add(name)
            ends[step.layers[-1].id] = name

    def ref(lid: str) -> str:
        return ends.get(lid) or top.name(lid)

    lines: list[str] = []
    order: list[str] = []
    previous, index = INPUT, 0
    while index < len(steps):
        step = steps[index]
        if isinstance(step, Instance):
            run = [step]
            while index + len(run) < len(steps):
                after = steps[index + len(run)]
                if not (isinstance(after, Instance) and after.block_type == step.block_type):
                    break
                if after.values != step.values or after.entry != run[-1].layers[-1].id:
                    break
                run.append(after)
            names = [ends[member.layers[-1].id] for member in run]
            entries: dict[str, Any] = {"block": step.block_type}
            if len(run) > 1:
                entries["repeat"] = len(run)
                if names != [f"{step.block_type}_{k}" for k in range(1, len(run) + 1)]:
                    entries["names"] = names
            elif names[0] != step.block_type:
                entries["name"] = names[0]
            if step.entry != previous:
                entries["input"] = ref(step.entry)
            if step.values:
                entries["with"] = step.values
            lines += wrapped(f"  - {flow(entries)}", "      ")
            order += [layer.id for member in run for layer in member.ordered]
            previous = run[-1].layers[-1].id
            index += len(run)
            continue
        entries = {"op": step.op, "name": top.name(step.id)}
        operands = [ref(s) if s != INPUT else INPUT for s in step.inputs]
        if ops.kind(step.op).operands == "shortcut":
            entries["shortcut"] = operands[1]
            if step.inputs[0] != previous:
                entries["residual"] = operands[0]
        elif ops.kind(step.op).operands == "inputs":
            entries["inputs"] = operands
        elif step.inputs and step.inputs[0] != previous:
            entries["input"] = operands[0]
        if ops.kind(step.op).operands == "like" and len(operands) > 1:
            entries["like"] = operands[1]
        values = dict(step.attrs)
        if step is classifier:
            values["units"] = "$num_classes"
        entries.update(written(step, values, defaults))
        lines.append(f"  - {flow(entries)}")
        order.append(step.id)
        previous = step.id
        index += 1
    if list(outputs) != [previous]:
        lines.append(f"outputs: {scalar([ref(o) for o in outputs])}")
    return lines, order
