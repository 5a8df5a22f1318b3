"""What spec B changes relative to spec A: the two IRs aligned step by step and node by node.

    archspec diff inception_resnet_v2 inception_resnet_v2_paper

Steps (the stem, each block instance, the head) are matched by name first. Between two steps
matched by name, the others are matched by block type in the order written: a step that was
renamed (`mixed_6a` in A, `reduction_a` in B) is still the same step. What is left over is
removed (in A only) or added (in B only), so a repeat that shrank from 10 to 5 instances shows
as five removed instances. Within a matched pair of steps, nodes are matched by their name inside
the step (`branch_1/conv_2`); where a stretch of nodes was only renamed, op for op, it is matched
by position. Every delta is B minus A, and every node belongs to exactly one step, so the deltas
of the steps add up to the difference of the two totals, exactly.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, TypeVar

from archspec.analysis.shapes import Shape, fmt
from archspec.ir import Node, Step
from archspec.ops import kind
from archspec.tools import render
from archspec.tools.render import OUTPUT_ID, AddedBox, AddedNode, Additions, Highlight, Wire, added_id

if TYPE_CHECKING:
    from archspec.spec import Spec

Item = TypeVar("Item")
Pair = tuple[Any, Any]  # (A's, B's); None on the side that lacks it

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")  # an attribute written as one block parameter
_SIZES = ("kernel", "stride", "dilation", "pool_size")  # pairs shown as the paper writes them, 1x7


@dataclass(frozen=True)
class NodeChange:
    """One node that was added, removed or changed; `a` and `b` are its names in A and in B."""

    a: str | None
    b: str | None
    status: str  # "added", "removed" or "changed"
    label: str  # what it is, as the drawings label it ("1x7 Conv (224)"): B's where it has one
    attrs: tuple[tuple[str, Any, Any], ...] = ()  # (attribute, A's value, B's value); `op` among them
    inputs: Pair | None = None  # the operands, named inside the step, where the wiring changed
    shape: Pair | None = None
    params: Pair = (0, 0)
    macs: Pair = (0, 0)
    operands: Pair | None = None  # the shapes it reads, where they changed and its own did not


@dataclass(frozen=True)
class StepChange:
    """One top-level step of either spec, and what differs in it."""

    a: Step | None
    b: Step | None
    status: str  # "added", "removed", "changed" or "same"
    nodes: tuple[NodeChange, ...] = ()
    values: tuple[tuple[str, Any, Any], ...] = ()  # the block parameters behind its attributes
    reads: Pair | None = None  # the tensors it reads from other steps, where they differ
    shape: Pair = (None, None)
    params: Pair = (0, 0)
    macs: Pair = (0, 0)

    @property
    def name(self) -> str:
        step = self.a or self.b
        assert step is not None
        return step.name


@dataclass(frozen=True)
class Diff:
    a: str  # the specs' names
    b: str
    steps: tuple[StepChange, ...]
    totals: dict[str, Pair]  # params, macs, activation_bytes, input_shape, outputs
    matches: Mapping[str, str] = field(default_factory=dict)  # A's node -> B's node it is matched with

    @property
    def changed(self) -> tuple[StepChange, ...]:
        return tuple(step for step in self.steps if step.status != "same")


def align(
    a: Sequence[Item], b: Sequence[Item], name: Callable[[Item], str], kind_of: Callable[[Item], str]
) -> list[tuple[Any, Any]]:
    """Both sequences as pairs, in order: items of the same name are matched; between two such
    anchors the rest are matched by kind, in order (a renamed step keeps its block type); what
    is left has no match on the other side."""
    pairs: list[tuple[Any, Any]] = []
    start_a = start_b = 0
    for index_a, index_b in [*_matching(a, b, name), (len(a), len(b))]:
        pairs += _gap(a[start_a:index_a], b[start_b:index_b], kind_of)
        if index_a < len(a):
            pairs.append((a[index_a], b[index_b]))
        start_a, start_b = index_a + 1, index_b + 1
    return pairs


def _matching(a: Sequence[Item], b: Sequence[Item], key: Callable[[Item], str]) -> list[tuple[int, int]]:
    """Index pairs of items with equal keys, increasing on both sides, as many as can be: the
    longest increasing run of B's positions in A's order. Keys are unique on each side (names),
    so this takes O(n log n), whatever order a hostile spec writes its names in."""
    where = {key(y): j for j, y in enumerate(b)}
    found = [(i, where[key(x)]) for i, x in enumerate(a) if key(x) in where]
    tails: list[int] = []  # tails[k]: the index in `found` that ends the best run of length k + 1
    before: list[int] = [-1] * len(found)
    for index, (_, j) in enumerate(found):
        k = bisect.bisect_left(tails, j, key=lambda t: found[t][1])
        before[index] = tails[k - 1] if k else -1
        tails[k : k + 1] = [index]
    run, index = [], tails[-1] if tails else -1
    while index >= 0:
        run.append(found[index])
        index = before[index]
    return run[::-1]


def _by_kind(a: Sequence[Item], b: Sequence[Item], kind_of: Callable[[Item], str]) -> list[tuple[int, int]]:
    """Index pairs of items of the same kind, in order on both sides: the most there can be
    where the stretches are small (difflib), else the first fit for each of A's in turn, so
    that two stretches of thousands of steps of one type still align in linear time."""
    if len(a) * len(b) <= 250_000:
        matcher = SequenceMatcher(None, [kind_of(x) for x in a], [kind_of(y) for y in b], autojunk=False)
        return [(m.a + i, m.b + i) for m in matcher.get_matching_blocks() for i in range(m.size)]
    positions: dict[str, list[int]] = {}
    for j, y in enumerate(b):
        positions.setdefault(kind_of(y), []).append(j)
    pairs, start = [], 0
    for i, x in enumerate(a):
        candidates = positions.get(kind_of(x), [])
        k = bisect.bisect_left(candidates, start)
        if k < len(candidates):
            pairs.append((i, candidates[k]))
            start = candidates[k] + 1
    return pairs


def _gap(a: Sequence[Item], b: Sequence[Item], kind_of: Callable[[Item], str]) -> list[tuple[Any, Any]]:
    pairs: list[tuple[Any, Any]] = []
    start_a = start_b = 0
    for index_a, index_b in [*_by_kind(a, b, kind_of), (len(a), len(b))]:
        pairs += [(x, None) for x in a[start_a:index_a]] + [(None, y) for y in b[start_b:index_b]]
        if index_a < len(a):
            pairs.append((a[index_a], b[index_b]))
        start_a, start_b = index_a + 1, index_b + 1
    return pairs


def diff(a: Spec, b: Spec, ignore_shapes: bool = False) -> Diff:
    """The differences of B from A. With `ignore_shapes`, only what each node itself changes (its
    op, attributes, name or wiring): sizes, params and MACs that follow from a change upstream
    (another input size, wider channels before it) do not make a node or a step changed."""
    steps = align(a.steps, b.steps, lambda s: s.name, lambda s: s.type)
    node_pairs = {step_a.name if step_a else step_b.name: _node_pairs(a, b, step_a, step_b) for step_a, step_b in steps}
    to_b = {x: y for pairs in node_pairs.values() for x, y in pairs if x and y}
    to_b["input"] = "input"
    to_a = {y: x for x, y in to_b.items()}
    changes = []
    for step_a, step_b in steps:
        pairs = node_pairs[step_a.name if step_a else step_b.name]
        changes.append(_step_change(a, b, step_a, step_b, pairs, (to_b, to_a), ignore_shapes))
    totals: dict[str, Pair] = {
        "params": (a.params, b.params),
        "macs": (a.macs, b.macs),
        "activation_bytes": tuple(sum(c.activation_bytes for c in s.costs.values()) for s in (a, b)),  # type: ignore[dict-item]
        "input_shape": (a.input_shape, b.input_shape),
        "outputs": tuple(tuple((n, s.shapes[n]) for n in s.outputs) for s in (a, b)),  # type: ignore[dict-item]
    }
    return Diff(a.name, b.name, tuple(changes), totals, to_b)


def _inner(step: Step, name: str) -> str:
    """A node's name inside its step: `branch_1/conv_2` of `mixed_6b/branch_1/conv_2`; a
    top-level op is the step itself, `.`."""
    return "." if name == step.name else name.removeprefix(step.name + "/")


def _node_pairs(a: Spec, b: Spec, step_a: Step | None, step_b: Step | None) -> list[tuple[str | None, str | None]]:
    names_a = list(step_a.nodes) if step_a else []
    names_b = list(step_b.nodes) if step_b else []
    if step_a is None or step_b is None:
        return [(x, None) for x in names_a] + [(None, y) for y in names_b]
    # By name, whatever the order (branches that swap places swap their nodes' order); what is
    # left is paired op for op where it is only renamed.
    in_b = {_inner(step_b, y): y for y in names_b}
    matched = {x: in_b[_inner(step_a, x)] for x in names_a if _inner(step_a, x) in in_b}
    rest_a = [x for x in names_a if x not in matched]
    rest_b = [y for y in names_b if y not in set(matched.values())]
    if len(rest_a) == len(rest_b) and all(a.node(x).op == b.node(y).op for x, y in zip(rest_a, rest_b, strict=True)):
        matched.update(zip(rest_a, rest_b, strict=True))
        rest_b = []
    return [(x, matched.get(x)) for x in names_a] + [(None, y) for y in rest_b]


def _step_change(
    a: Spec,
    b: Spec,
    step_a: Step | None,
    step_b: Step | None,
    pairs: Sequence[tuple[str | None, str | None]],
    matches: tuple[Mapping[str, str], Mapping[str, str]],
    ignore_shapes: bool,
) -> StepChange:
    nodes = []
    for name_a, name_b in pairs:
        change = _node_change(a, b, step_a, step_b, name_a, name_b, matches, ignore_shapes)
        if change is not None:
            nodes.append(change)
    shape = (a.shapes[step_a.output] if step_a else None, b.shapes[step_b.output] if step_b else None)
    params = (_total(a, step_a, "params"), _total(b, step_b, "params"))
    macs = (_total(a, step_a, "macs"), _total(b, step_b, "macs"))
    if step_a is None or step_b is None:
        status = "added" if step_a is None else "removed"
        values = tuple((k, v, None) for k, v in _values(a, step_a).items()) if step_a else ()
        values += tuple((k, None, v) for k, v in _values(b, step_b).items()) if step_b else ()
        return StepChange(step_a, step_b, status, tuple(nodes), values, None, shape, params, macs)
    values_a, values_b = _values(a, step_a), _values(b, step_b)
    values = tuple(
        (k, values_a.get(k), values_b.get(k))
        for k in dict.fromkeys([*values_a, *values_b])
        if values_a.get(k) != values_b.get(k)
    )
    reads = _rewired(step_a.inputs, step_b.inputs, *matches)
    same = not nodes and not values and reads is None and step_a.name == step_b.name and step_a.type == step_b.type
    status = "same" if same and (ignore_shapes or shape[0] == shape[1]) else "changed"
    return StepChange(step_a, step_b, status, tuple(nodes), values, reads, shape, params, macs)


def _total(spec: Spec, step: Step | None, what: str) -> int:
    return sum(getattr(spec.costs[name], what) for name in step.nodes) if step else 0


def _values(spec: Spec, step: Step) -> dict[str, Any]:
    """The block parameters a step's attributes were written with (`$channels` -> 320)."""
    found: dict[str, Any] = {}
    for name in step.nodes:
        node = spec.node(name)
        for attr, text in node.sources.items():
            match = _PARAMETER.fullmatch(text.strip())
            if match and attr in node.attrs:
                found.setdefault(match.group(1), node.attrs[attr])
    return found


def _rewired(
    reads_a: Sequence[str], reads_b: Sequence[str], to_b: Mapping[str, str], to_a: Mapping[str, str]
) -> Pair | None:
    """A's and B's operands where the wiring itself changed: each side's operand has a match on
    the other side, and the matches differ. An operand that was added or removed is not a
    rewiring of its own; the node that went is reported already."""
    if len(reads_a) != len(reads_b):
        return (tuple(reads_a), tuple(reads_b))
    for x, y in zip(reads_a, reads_b, strict=True):
        if x in to_b and y in to_a and to_b[x] != y:
            return (tuple(reads_a), tuple(reads_b))
    return None


def _node_change(
    a: Spec,
    b: Spec,
    step_a: Step | None,
    step_b: Step | None,
    name_a: str | None,
    name_b: str | None,
    matches: tuple[Mapping[str, str], Mapping[str, str]],
    ignore_shapes: bool = False,
) -> NodeChange | None:
    node_a, node_b = (a.node(name_a) if name_a else None), (b.node(name_b) if name_b else None)
    cost_a = a.costs[name_a] if name_a else None
    cost_b = b.costs[name_b] if name_b else None
    params = (cost_a.params if cost_a else 0, cost_b.params if cost_b else 0)
    macs = (cost_a.macs if cost_a else 0, cost_b.macs if cost_b else 0)
    if node_a is None or node_b is None:
        present = node_b or node_a
        assert present is not None
        shape = (a.shapes[name_a] if name_a else None, b.shapes[name_b] if name_b else None)
        status = "added" if node_a is None else "removed"
        return NodeChange(name_a, name_b, status, kind(present.op).label(present), (), None, shape, params, macs)
    assert step_a is not None and step_b is not None
    attrs = _attr_changes(node_a, node_b)
    inputs = None
    inside = [x for x in node_a.inputs if x in step_a.nodes], [y for y in node_b.inputs if y in step_b.nodes]
    if _rewired(*inside, *matches) is not None:  # operands inside the step: outside ones are the step's
        inputs = tuple(_operand(step_a, x) for x in node_a.inputs), tuple(_operand(step_b, y) for y in node_b.inputs)
    shape = (a.shapes[node_a.name], b.shapes[node_b.name])
    read = (tuple(a.shapes[x] for x in node_a.inputs), tuple(b.shapes[y] for y in node_b.inputs))
    renamed = _inner(step_a, node_a.name) != _inner(step_b, node_b.name)
    alike = shape[0] == shape[1] and read[0] == read[1] and params[0] == params[1] and macs[0] == macs[1]
    alike = alike or ignore_shapes
    if alike and not renamed and not attrs and inputs is None:
        return None
    label = kind(node_b.op).label(node_b)
    return NodeChange(
        name_a, name_b, "changed", label, attrs, inputs,
        shape if shape[0] != shape[1] else None, params, macs,
        read if read[0] != read[1] and shape[0] == shape[1] else None,
    )  # fmt: skip


def _operand(step: Step, name: str) -> str:
    """An operand as the step sees it: a node inside by its inner name, one outside as `<in>`
    (which outside tensors a step reads is compared once, for the whole step)."""
    return _inner(step, name) if name in step.nodes else "<in>"


def _attr_changes(node_a: Node, node_b: Node) -> tuple[tuple[str, Any, Any], ...]:
    flat_a, flat_b = _flat(node_a), _flat(node_b)
    return tuple(
        (key, flat_a.get(key), flat_b.get(key))
        for key in dict.fromkeys([*flat_a, *flat_b])
        if flat_a.get(key) != flat_b.get(key)
    )


def _flat(node: Node) -> dict[str, Any]:
    """A node's op and attributes, a batch norm's settings one by one (`bn.eps`)."""
    flat: dict[str, Any] = {"op": node.op}
    for key, value in node.attrs.items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            flat.update({f"{key}.{f}": v for f, v in dataclasses.asdict(value).items()})
        else:
            flat[key] = value
    return flat


def highlight(found: Diff, a: Spec | None = None, b: Spec | None = None) -> Highlight:
    """What a drawing of A colours for `render A --diff B`: A's steps and nodes that B changes or
    lacks; the title names B and counts what B adds. Given the two specs `found` compares, the
    drawing also draws what B adds, and a legend box (`archspec.tools.render`)."""
    steps = {s.a.name: s.status for s in found.changed if s.a is not None}
    nodes = {n.a: n.status for s in found.changed for n in s.nodes if n.a is not None}
    nodes.update({name: "removed" for s in found.changed if s.status == "removed" and s.a for name in s.a.nodes})
    added = [s.b.name for s in found.changed if s.a is None and s.b is not None]
    new_nodes = sum(1 for s in found.changed if s.a is not None for n in s.nodes if n.status == "added")
    drawn = additions(found, a, b) if a is not None and b is not None else None
    # With a legend box, the title need not name the colours.
    legend = f"diff against B = {found.b}" + ("" if drawn else ": amber = changed in B, red = not in B")
    adds = []
    if added:
        shown = ", ".join(added[:3]) + (f" and {len(added) - 3} more" if len(added) > 3 else "")
        adds.append(f"{len(added)} step{'s' if len(added) != 1 else ''} ({shown})")
    if new_nodes:
        adds.append(f"{new_nodes} node{'s' if new_nodes != 1 else ''} in changed steps")
    if adds:
        legend += f"; B adds {' and '.join(adds)}"
    return Highlight(steps, nodes, legend, drawn)


def additions(found: Diff, a: Spec, b: Spec) -> Additions:
    """What a drawing of A draws of B (`found` compares A with B): B's nodes and steps without a
    match in A, every edge of B that A lacks, and every edge of A that B lacks. An end of an edge
    is named as A names it where it has a match in A, else by the id of its added box."""
    to_a = {y: x for x, y in found.matches.items()}

    def end(name: str) -> str:
        return to_a.get(name, added_id(name))

    outputs = {
        s.a.name: Wire(end(s.b.output), OUTPUT_ID, fmt(b.shapes[s.b.output]), s.b.output)
        for s in found.steps
        if s.a and s.b and end(s.b.output) != s.a.output
    }
    return Additions(
        _added_boxes(found, b),
        _added_nodes(found, b, to_a),
        tuple(_wires(a, b, to_a, end)),
        frozenset(_gone_edges(a, b, found.matches)),
        outputs,
    )


def _added_boxes(found: Diff, b: Spec) -> tuple[AddedBox, ...]:
    """The blocks view's boxes of the steps B adds: each run of them that B writes one after the
    other is grouped as a drawing of B would group it (ten added block35 instances are one box)."""
    added = {s.b.name for s in found.steps if s.a is None and s.b is not None}
    runs: list[list[Step]] = []
    for index, step in enumerate(b.steps):
        if step.name not in added:
            continue
        if runs and index and b.steps[index - 1] is runs[-1][-1]:
            runs[-1].append(step)
        else:
            runs.append([step])
    groups = [group for run in runs for group in render.step_groups(b, run)]
    return tuple(AddedBox(added_id(group.id), render.group_label(b, group), group.steps) for group in groups)


def _added_nodes(found: Diff, b: Spec, to_a: Mapping[str, str]) -> dict[str, AddedNode]:
    """B's nodes without a match in A, by the id of their box; each in A's step that B's step is
    matched with, if any."""
    home = {s.b.name: s.a.name for s in found.steps if s.a is not None and s.b is not None}
    steps = {step.name: step for step in b.steps}
    nodes = {}
    for node in b.nodes:
        if node.name not in to_a:  # the input always has its match
            scope = _inner(steps[node.block], node.name).rpartition("/")[0]
            nodes[added_id(node.name)] = AddedNode(node.name, render.op_label(node), home.get(node.block), scope)
    return nodes


def _has_edge(spec: Spec, match: Mapping[str, str], source: str, name: str) -> bool:
    """Whether `spec` has the edge from `source` into `name`, both named on the other side."""
    return source in match and name in match and match[source] in spec.node(match[name]).inputs


def _wires(a: Spec, b: Spec, to_a: Mapping[str, str], end: Callable[[str], str]) -> Iterator[Wire]:
    """The edges of B that A lacks, into its nodes and then into its outputs."""
    for node in b.nodes:
        for source in dict.fromkeys(node.inputs):
            if not _has_edge(a, to_a, source, node.name):
                yield Wire(end(source), end(node.name), fmt(b.shapes[source]), source)
    for index, output in enumerate(b.outputs):
        if index >= len(a.outputs) or to_a.get(output) != a.outputs[index]:
            yield Wire(end(output), f"{OUTPUT_ID}{index}", fmt(b.shapes[output]), output)


def _gone_edges(a: Spec, b: Spec, to_b: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """The edges of A that B lacks: (source, node), and (output, OUTPUT_ID + index)."""
    for node in a.nodes:
        for source in dict.fromkeys(node.inputs):
            if not _has_edge(b, to_b, source, node.name):
                yield (source, node.name)
    for index, output in enumerate(a.outputs):
        if index >= len(b.outputs) or to_b.get(output) != b.outputs[index]:
            yield (output, f"{OUTPUT_ID}{index}")


# -- reports ------------------------------------------------------------------------------------


def show(attr: str, value: Any) -> str:
    """A value as a spec writes it: `1x7`, `0.17`, `true`, `none`."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and attr.split(".")[-1] in _SIZES and all(isinstance(v, int) for v in value):
        return "x".join(map(str, value))
    if isinstance(value, tuple):
        return "[" + ", ".join(show("", v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(k, v)}" for k, v in value.items()) + "}"
    return str(value)


def _shape_text(shape: Shape | None) -> str:
    return "-" if shape is None else fmt(shape)


def to_json(found: Diff) -> dict[str, Any]:
    """Every step of A and B with its status, and each difference, JSON-ready."""

    def pair(values: Pair) -> dict[str, Any]:
        return {"a": _plain(values[0]), "b": _plain(values[1])}

    def delta(values: Pair) -> dict[str, Any]:
        return {"a": values[0], "b": values[1], "delta": values[1] - values[0]}

    return {
        "a": found.a,
        "b": found.b,
        "totals": {
            **{k: delta(found.totals[k]) for k in ("params", "macs", "activation_bytes")},
            "input_shape": pair(found.totals["input_shape"]),
            "outputs": {
                side: [{"name": n, "shape": list(s)} for n, s in outputs]
                for side, outputs in zip("ab", found.totals["outputs"], strict=True)
            },
        },
        "steps": [
            {
                "a": step.a.name if step.a else None,
                "b": step.b.name if step.b else None,
                "type": pair((step.a.type if step.a else None, step.b.type if step.b else None)),
                "status": step.status,
                "output_shape": pair(step.shape),
                "params": delta(step.params),
                "macs": delta(step.macs),
                "values": [{"name": k, **pair((x, y))} for k, x, y in step.values],
                "reads": None if step.reads is None else pair(step.reads),
                "nodes": [
                    {
                        "a": n.a,
                        "b": n.b,
                        "status": n.status,
                        "label": n.label,
                        "attrs": [{"name": k, **pair((x, y))} for k, x, y in n.attrs],
                        "inputs": None if n.inputs is None else pair(n.inputs),
                        "output_shape": None if n.shape is None else pair(n.shape),
                        "params": delta(n.params),
                        "macs": delta(n.macs),
                    }
                    for n in step.nodes
                ],
            }
            for step in found.steps
        ],
    }


def _plain(value: Any) -> Any:
    """JSON's form of an attribute value: tuples as lists, anything else unusual as its text."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _signed(number: int) -> str:
    return f"{number:+,}" if number else "0"


def _macs(number: int) -> str:
    """A MAC count short enough to read at a glance; the JSON report has every one exactly."""
    if abs(number) >= 10**9:
        return f"{number / 1e9:+.3f} G"
    if abs(number) >= 10**6:
        return f"{number / 1e6:+.1f} M"
    return _signed(number)


def _runs(steps: Sequence[StepChange]) -> Iterator[list[StepChange]]:
    """Consecutive changed steps that differ alike (five block35 instances whose up-projection
    widened), as one entry: a report of what changed reads better than one line per instance."""
    run: list[StepChange] = []
    for step in steps:
        if run and _alike(run[-1], step):
            run.append(step)
            continue
        if run:
            yield run
        run = [step]
    if run:
        yield run


def _alike(x: StepChange, y: StepChange) -> bool:
    def types(step: StepChange) -> tuple[Any, ...]:
        return (step.status, step.a and step.a.type, step.b and step.b.type)

    def inner(step: StepChange, change: NodeChange) -> tuple[Any, ...]:
        names = tuple(_inner(s, n) if s and n else None for s, n in ((step.a, change.a), (step.b, change.b)))
        return (names, change.status, change.attrs, change.inputs, change.shape, change.params, change.macs)

    if types(x) != types(y) or x.status == "same" or x.reads or y.reads:
        return False
    renamed = [bool(s.a and s.b and s.a.name != s.b.name) for s in (x, y)]
    return (
        not any(renamed)
        and x.values == y.values
        and (x.shape, x.params, x.macs) == (y.shape, y.params, y.macs)
        and [inner(x, n) for n in x.nodes] == [inner(y, n) for n in y.nodes]
    )


def table(found: Diff) -> str:
    """The report for people: the totals, then each changed step (runs of alike ones as one)."""
    totals = found.totals
    lines = [f"{found.a} -> {found.b}"]
    for key, title in (("params", "params"), ("macs", "MACs"), ("activation_bytes", "activation bytes")):
        x, y = totals[key]
        share = f" ({100 * (y - x) / x:+.1f} %)" if x else ""
        lines.append(f"  {title}: {x:,} -> {y:,}, {_signed(y - x)}{share}")
    if totals["input_shape"][0] != totals["input_shape"][1]:
        lines.append(f"  input: {fmt(totals['input_shape'][0])} -> {fmt(totals['input_shape'][1])}")
    outputs = [", ".join(f"{fmt(s)} ({n})" for n, s in side) for side in totals["outputs"]]
    if outputs[0] != outputs[1]:
        lines.append(f"  outputs: {outputs[0]} -> {outputs[1]}")
    same = sum(1 for step in found.steps if step.status == "same")
    lines.append(f"  steps: {len(found.changed)} differ, {same} the same")
    for run in _runs(found.changed):
        lines.append("")
        lines += _run_lines(run)
    return "\n".join(lines)


def _run_lines(run: Sequence[StepChange]) -> list[str]:
    first, last = run[0], run[-1]
    step_a, step_b = first.a, first.b
    if len(run) == 1:
        renamed = step_a and step_b and step_a.name != step_b.name
        names = f"{step_a.name} -> {step_b.name}" if renamed else first.name  # type: ignore[union-attr]
    else:
        names = f"{first.name} .. {last.name}"
    types = [s.type for s in (step_a, step_b) if s]
    kind_text = types[0] if len(set(types)) == 1 else f"{types[0]} -> {types[1]}"
    if len(run) > 1:
        kind_text = f"{len(run)} x {kind_text}"
    count = len(run)
    params = sum(s.params[1] - s.params[0] for s in run)
    macs = sum(s.macs[1] - s.macs[0] for s in run)
    head = f"{names} ({kind_text}): {first.status}"
    if first.status == "removed":
        head += f", output was {_shape_text(first.shape[0])}"
    elif first.status == "added":
        head += f", output {_shape_text(first.shape[1])}"
    elif first.shape[0] != first.shape[1]:
        head += f", output {_shape_text(first.shape[0])} -> {_shape_text(first.shape[1])}"
    each = " each" if count > 1 else ""
    head += f"; params {_signed(params)}, MACs {_macs(macs)}"
    if count > 1 and params:
        head += f" ({_signed(params // count)}{each})"
    lines = [head]
    if first.values:
        if first.status in ("added", "removed"):
            lines.append("    with " + ", ".join(f"{k} {show(k, x if y is None else y)}" for k, x, y in first.values))
        else:
            lines.append("    with " + ", ".join(f"{k} {show(k, x)} -> {show(k, y)}" for k, x, y in first.values))
    if first.reads is not None:
        lines.append(f"    reads {', '.join(first.reads[0])} -> {', '.join(first.reads[1])}")
    if first.status in ("added", "removed"):
        return lines  # its nodes are all added or removed: the step says it
    for change in first.nodes:
        lines.append("    " + _node_line(first, change))
    return lines


def _node_line(step: StepChange, change: NodeChange) -> str:
    if change.status == "added":
        assert step.b is not None and change.b is not None
        where = _inner(step.b, change.b)
        return f"+ {where}: {change.label}, {_shape_text(change.shape[1] if change.shape else None)}, {_costs(change)}"
    if change.status == "removed":
        assert step.a is not None and change.a is not None
        where = _inner(step.a, change.a)
        return f"- {where}: {change.label}, {_shape_text(change.shape[0] if change.shape else None)}, {_costs(change)}"
    assert step.a is not None and step.b is not None and change.a is not None and change.b is not None
    inner_a, inner_b = _inner(step.a, change.a), _inner(step.b, change.b)
    where = inner_a if inner_a == inner_b else f"{inner_a} -> {inner_b}"
    parts = [f"{k} {show(k, x)} -> {show(k, y)}" for k, x, y in change.attrs]
    if change.inputs is not None:
        parts.append(f"inputs {', '.join(change.inputs[0])} -> {', '.join(change.inputs[1])}")
    if change.operands is not None:
        shown = [", ".join(map(fmt, side)) for side in change.operands]
        parts.append(f"input {shown[0]} -> {shown[1]}")
    if change.shape is not None:
        parts.append(f"output {_shape_text(change.shape[0])} -> {_shape_text(change.shape[1])}")
    return f"~ {where}: {', '.join(parts) or 'renamed'}; {_costs(change)}"


def _costs(change: NodeChange) -> str:
    return f"params {_signed(change.params[1] - change.params[0])}, MACs {_macs(change.macs[1] - change.macs[0])}"
