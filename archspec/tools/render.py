"""Drawings of a checked spec in the style of the paper's figures, as Graphviz DOT text.

Three views:

* `blocks`: the overall schema. One box per top-level step, with consecutive instances of the
  same block collapsed into one box ("7 x inception_b"), and every edge labelled with the shape
  of the tensor it carries.
* a single block (`block_dot`): one block instance op by op, its branches side by side in the
  order written, each op labelled as the paper's figures label it ("1x7 Conv (224)", "3x3
  MaxPool (stride 2 V)"), meeting at a filter concat or a scaled add.
* `layers`: every IR node, one cluster per block instance, shapes on the edges.

With a `Highlight` (`render A --diff B`), every view colours A's boxes that B changes (amber) or
lacks (red), and, where the Highlight carries `Additions`, also draws what B adds, in green:

* B's steps that A has no match for (blocks view; a run of added instances of one block type is
  one box, as A's repeats are), and B's nodes that A has no match for (layers view, and in the
  block view the nodes B adds to that block), each wired where B wires it, its edges labelled
  with B's shapes.
* Every edge of B that A lacks is green, and every edge of A that B lacks is dashed red. So a step
  that B inserts between two of A's steps shows as A's edge between them, dashed (B no longer
  wires them directly), beside the green path through the new step; a step B appends at the end
  takes over the green edge into Output while A's last edge there is dashed.
* A legend box names the three colours.

The boxes of what B adds have ids that start with `@`, which no spec name can, so they never
clash with A's boxes, whatever B calls them. Without a Highlight, or with one that carries no
Additions (the html page's, which places only A's boxes), nothing of this is drawn.

Everything here is a pure function of the Spec, returning text; only `to_image` runs a program
(Graphviz's `dot`), so DOT output needs nothing installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archspec.analysis.shapes import fmt
from archspec.errors import ArchspecError, UsageError, did_you_mean
from archspec.ir import Node, Step
from archspec.limits import MAX_DRAWN_NODES
from archspec.ops import OpGroup, kind

if TYPE_CHECKING:
    from archspec.spec import Spec

LEVELS = ("blocks", "layers")
FORMATS = ("svg", "png", "pdf", "dot", "html")  # html: the interactive page of archspec.tools.viewer
RANKDIRS = ("TB", "LR")

INPUT_ID = "@input"  # '@' cannot occur in a spec name, so these never clash with a step or node
OUTPUT_ID = "@output"

GRAPH_STYLE = {"fontname": "Helvetica", "fontsize": "12", "nodesep": "0.25", "ranksep": "0.35"}
BOX = {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff", "fontname": "Helvetica", "fontsize": "12"}
TERMINAL = {"shape": "box", "style": "filled", "fillcolor": "#e8e8e8", "fontname": "Helvetica", "fontsize": "12"}
EDGE_STYLE = {"fontname": "Helvetica", "fontsize": "10", "arrowsize": "0.7"}

REPEAT_FILL = "#fde2c8"
STEP_FILL = "#fff6d5"
CHANGED_FILL = "#ffc857"  # render A --diff B: what B changes, and what B leaves out
REMOVED_FILL = "#f28b82"
ADDED_FILL = "#8fd68a"  # what B adds
ADDED_LINE = "#2e7d32"  # an edge B adds: darker than the fill, for thin lines to show it
REMOVED_LINE = "#c5221f"  # an edge of A's that B lacks, dashed as well, so it reads without colour
ADDED_ID = "@b:"  # the boxes of what B adds: '@' starts no spec name, so they never clash with A's
LEGEND_ID = "@legend"


def added_id(name: str) -> str:
    """The box of B's node or step `name` in a drawing of A."""
    return ADDED_ID + name


@dataclass(frozen=True)
class AddedNode:
    """A node of B that A has no match for."""

    name: str  # B's
    label: str  # as the drawings label an op ("1x7 Conv (224)")
    home: str | None  # A's step it is drawn in, where B adds it to a step A has too; None where B adds the step
    scope: str = ""  # the branch it sits in inside its step, which keeps a branch in one column


@dataclass(frozen=True)
class AddedBox:
    """A box of the blocks view for steps B adds: one step, or a run of instances of one block type."""

    id: str
    label: str
    steps: tuple[Step, ...]  # B's


@dataclass(frozen=True)
class Wire:
    """An edge of B that A lacks. `tail` and `head` are A's node names where the tensor has a match
    in A, else an added box's id; a head may also be OUTPUT_ID and the index of B's output."""

    tail: str
    head: str
    shape: str  # B's, as an edge label writes it
    tensor: str  # B's name of what it carries


@dataclass(frozen=True)
class Additions:
    """What a drawing of A shows of B beyond colours: B's boxes and edges that A lacks, and A's edges
    that B lacks (`archspec.tools.diff.highlight` with both specs)."""

    boxes: tuple[AddedBox, ...] = ()  # the blocks view's, in B's order
    nodes: Mapping[str, AddedNode] = field(default_factory=dict)  # by box id
    wires: tuple[Wire, ...] = ()
    gone: frozenset[tuple[str, str]] = frozenset()  # A's (source, node), and (output, OUTPUT_ID + index)
    outputs: Mapping[str, Wire] = field(default_factory=dict)  # A's step -> B's edge into its output, if other

    def by_home(self) -> dict[str, list[tuple[str, AddedNode]]]:
        """The nodes B adds to steps A has too (box id, node), by A's step."""
        homes: dict[str, list[tuple[str, AddedNode]]] = {}
        for node_id, node in self.nodes.items():
            if node.home is not None:
                homes.setdefault(node.home, []).append((node_id, node))
        return homes


@dataclass(frozen=True)
class Highlight:
    """What another spec B changes in the drawn spec A (`render A --diff B`, made by
    `archspec.tools.diff.highlight`): the steps and nodes of A that B changes or lacks are filled in
    colour, and the title names B and what it adds. With `added`, the drawing also draws what B
    adds and has a legend box (see the module's docstring)."""

    steps: Mapping[str, str] = field(default_factory=dict)  # A's step name -> "changed" | "removed"
    nodes: Mapping[str, str] = field(default_factory=dict)  # A's node name -> "changed" | "removed"
    legend: str = ""
    added: Additions | None = None

    def fill(self, status: str | None, usual: str) -> str:
        return {"changed": CHANGED_FILL, "removed": REMOVED_FILL}.get(status or "", usual)

    def keeps(self, tail: str, head: str) -> bool:
        """Whether B has A's edge from node `tail` to node `head` (or to OUTPUT_ID + index); where
        nothing of B is drawn, every edge is drawn as A's."""
        return self.added is None or (tail, head) not in self.added.gone


PLAIN = Highlight()


class RenderError(ArchspecError):
    """Graphviz is missing or failed; the message says which and what to do."""


class UnknownBlock(UsageError):
    """A --block name that is neither a block type nor a step of the spec."""

    def __init__(self, name: str, types: Sequence[str], instances: Sequence[str], source: str = "the spec"):
        self.name, self.types, self.instances = name, tuple(types), tuple(instances)
        message = f"{source}: no block type or step named '{name}'; block types: {', '.join(types) or 'none'}"
        super().__init__(message, hint=did_you_mean(name, [*types, *instances]))


# -- DOT text ---------------------------------------------------------------------------------


def quote(text: str) -> str:
    """A DOT double-quoted string. Backslashes are doubled first, so that a name can never turn
    into one of Graphviz's label escapes (\\N, \\G, \\l ...); a newline becomes DOT's \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"'


def attr_list(attrs: dict[str, str]) -> str:
    return "[" + ", ".join(f"{key}={quote(value)}" for key, value in attrs.items()) + "]"


_NODE_STATEMENT = re.compile(r'\s*"(?:[^"\\]|\\.)*" \[')  # what node_line writes; an edge has "->" first


def node_line(node_id: str, attrs: dict[str, str]) -> str:
    return f"{quote(node_id)} {attr_list(attrs)};"


def edge_line(tail: str, head: str, attrs: dict[str, str]) -> str:
    return f"{quote(tail)} -> {quote(head)} {attr_list(attrs)};"


def digraph(name: str, body: Iterable[str], graph_attrs: dict[str, str]) -> str:
    lines = [f"digraph {quote(name)} {{"]
    lines += [f"  {key}={quote(value)};" for key, value in graph_attrs.items()]
    lines += [f"  node {attr_list(BOX)};", f"  edge {attr_list(EDGE_STYLE)};"]
    lines += [f"  {line}" for line in body]
    return "\n".join([*lines, "}"]) + "\n"


# -- op labels as the paper writes them --------------------------------------------------------


def op_label(node: Node) -> str:
    """One op as the paper's figures label it ("1x7 Conv (224)", "Filter concat"): its kind's label."""
    return kind(node.op).label(node)


def _op_box(node: Node, highlight: Highlight = PLAIN) -> dict[str, str]:
    status = highlight.nodes.get(node.name)
    tooltip = node.name if status is None else f"{node.name} ({status} in B)"
    return {"label": op_label(node), "fillcolor": highlight.fill(status, kind(node.op).fill), "tooltip": tooltip}


# -- steps and their groups ---------------------------------------------------------------------


def is_block_instance(spec: Spec, step: Step) -> bool:
    """A block instance owns nodes named `instance/...`; a top-level op or branches step is
    itself a node of the graph."""
    return step.kind == "block"


def block_types(spec: Spec) -> list[str]:
    """The block types the network instantiates, in order of first use."""
    return list(dict.fromkeys(step.type for step in spec.steps if is_block_instance(spec, step)))


@dataclass(frozen=True)
class Group:
    """Consecutive top-level steps drawn as one box: instances of one block type, or a single step."""

    steps: tuple[Step, ...]

    @property
    def id(self) -> str:
        return self.steps[0].name


def step_groups(spec: Spec, steps: Sequence[Step] | None = None) -> list[Group]:
    """The boxes of the blocks view: a run of consecutive instances of the same block type is one
    group (the paper's "7 x Inception-B"); a top-level op or branches step is always its own.
    `steps`: consecutive steps of the spec to group (all of them by default)."""
    groups: list[list[Step]] = []
    for step in spec.steps if steps is None else steps:
        last = groups[-1][-1] if groups else None
        if last and last.type == step.type and is_block_instance(spec, last) and is_block_instance(spec, step):
            groups[-1].append(step)
        else:
            groups.append([step])
    return [Group(tuple(steps)) for steps in groups]


def group_label(spec: Spec, group: Group) -> str:
    first, last = group.steps[0], group.steps[-1]
    if not is_block_instance(spec, first):
        node = spec.node(first.name)
        return op_label(node) if not kind(node.op).sums_widths else f"Branches -> Filter concat\n{first.name}"
    if len(group.steps) == 1:
        return first.type if first.name == first.type else f"{first.type}\n{first.name}"
    lines = [f"{len(group.steps)} x {first.type}", f"{first.name} .. {last.name}"]
    outputs = [fmt(spec.shapes[step.output]) for step in group.steps]
    if len(set(outputs)) > 1:  # the edge out shows only the last; say where the width changes
        lines.append("outputs " + ", ".join(outputs))
    drawn = _signature(spec, first)
    differ = [step.name for step in group.steps[1:] if _signature(spec, step) != drawn]
    if differ:  # one box must not hide that, say, the last block has no ReLU
        lines.append(f"{_few(differ)} {'differs' if len(differ) == 1 else 'differ'} from {first.name}")
    return "\n".join(lines)


# -- the blocks view ----------------------------------------------------------------------------


def blocks_dot(spec: Spec, rankdir: str = "TB", highlight: Highlight = PLAIN) -> str:
    groups = step_groups(spec)
    group_of = {step.name: group.id for group in groups for step in group.steps}
    group_of["input"] = INPUT_ID  # the input node belongs to no step

    body = [node_line(INPUT_ID, {**TERMINAL, "label": "Input", "class": "io"})]
    for group in groups:
        fill = REPEAT_FILL if len(group.steps) > 1 else STEP_FILL
        label = group_label(spec, group)
        statuses = [highlight.steps.get(step.name) for step in group.steps]
        if any(statuses):
            fill = highlight.fill("removed" if all(s == "removed" for s in statuses) else "changed", fill)
            label += "\n" + _group_changes(statuses)
        body.append(node_line(group.id, {"label": label, "fillcolor": fill, "class": "step"}))
    for index, _ in enumerate(spec.outputs):
        body.append(node_line(f"{OUTPUT_ID}{index}", {**TERMINAL, "label": "Output", "class": "io"}))
    added = highlight.added
    if added is not None:
        body += _added_step_lines(spec, added)

    crossings = _crossings(spec, group_of)
    if added is None:
        body += [edge_line(tail, head, _shape_edge(spec, source)) for source, tail, head in crossings]
    else:
        body += _diff_crossings(spec, group_of, added, crossings)
        body.append(legend_line())
    heading = network_title(spec, highlight)
    return digraph(spec.name, body, {**GRAPH_STYLE, "rankdir": rankdir, "label": heading, "labelloc": "t"})


def _crossings(spec: Spec, group_of: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """The edges of the blocks view, (tensor, tail box, head box): one per tensor that leaves a box
    for another box (repeats of a group swallow theirs), then one into each output."""
    found: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for node in spec.nodes:
        for source in node.inputs:
            tail, head = group_of[spec.node(source).block], group_of[node.block]
            if tail != head and (source, head) not in seen:
                seen.add((source, head))
                found.append((source, tail, head))
    for index, output in enumerate(spec.outputs):
        found.append((output, group_of[spec.node(output).block], f"{OUTPUT_ID}{index}"))
    return found


def _group_changes(statuses: Sequence[str | None]) -> str:
    """`in B: changed`, or for a run of repeats `in B: 5 of 10 removed, 5 changed`."""
    if len(statuses) == 1:
        return f"in B: {statuses[0]}"
    counts = [f"{statuses.count(s)} {s}" for s in ("removed", "changed") if s in statuses]
    return f"in B: {', '.join(counts)} of {len(statuses)}"


def _shape_edge(spec: Spec, source: str) -> dict[str, str]:
    """An edge labelled with the shape of the tensor it carries; the tooltip names that tensor."""
    return {"label": f" {fmt(spec.shapes[source])}", "tooltip": source}


# -- what B adds (render A --diff B) ---------------------------------------------------------------

ADDED_EDGE = {"color": ADDED_LINE, "fontcolor": ADDED_LINE}
GONE_EDGE = {"style": "dashed", "color": REMOVED_LINE}


def _gone(edge: dict[str, str]) -> dict[str, str]:
    """An edge of A's that B does not have."""
    return {**edge, **GONE_EDGE, "tooltip": f"{edge['tooltip']} (not in B)"}


def _kept(edge: dict[str, str], kept: bool) -> dict[str, str]:
    return edge if kept else _gone(edge)


def _wire_edge(wire: Wire) -> dict[str, str]:
    """An edge B has and A lacks, labelled with B's shape: B's wiring, whatever A's shapes are."""
    return {"label": f" {wire.shape}", "tooltip": f"{wire.tensor} (added by B)", **ADDED_EDGE}


def _added_op(node_id: str, node: AddedNode, attrs: Mapping[str, str]) -> str:
    return node_line(
        node_id, {"label": node.label, "fillcolor": ADDED_FILL, "tooltip": f"{node.name} (added by B)", **attrs}
    )


def legend_line() -> str:
    """A box that names the three colours, as a Graphviz HTML-like table: one swatch a row. Its
    text is fixed (the title names B), so nothing in it needs escaping."""
    rows = (
        (CHANGED_FILL, "changed in B (amber)"),
        (REMOVED_FILL, "not in B (red; edges: dashed)"),
        (ADDED_FILL, "added by B (green)"),
    )
    cells = "".join(
        f'<tr><td bgcolor="{fill}" border="1" width="24"> </td><td align="left">{text}</td></tr>' for fill, text in rows
    )
    table = f'<table border="0" cellborder="0" cellspacing="3" cellpadding="2">{cells}</table>'
    return f'{quote(LEGEND_ID)} [shape="plaintext", style="", class="legend", tooltip="legend", label=<{table}>];'


def _added_step_lines(spec: Spec, added: Additions) -> list[str]:
    """The blocks view's boxes of the steps B adds, and an Output for each output A does not have."""
    lines = [
        node_line(box.id, {"label": f"{box.label}\nadded by B", "fillcolor": ADDED_FILL, "class": "step"})
        for box in added.boxes
    ]
    heads = dict.fromkeys(wire.head for wire in added.wires if wire.head.startswith(OUTPUT_ID))
    outputs = [head for head in heads if int(head.removeprefix(OUTPUT_ID)) >= len(spec.outputs)]
    lines += [
        node_line(head, {**TERMINAL, "label": "Output", "fillcolor": ADDED_FILL, "class": "io"}) for head in outputs
    ]
    return lines


def _box_of(spec: Spec, group_of: Mapping[str, str], added: Additions) -> dict[str, str]:
    """The box of the blocks view that each end of a wire lies in (an Output is its own box)."""
    boxes = {node.name: group_of[node.block] for node in spec.nodes}
    boxes |= {added_id(name): box.id for box in added.boxes for step in box.steps for name in step.nodes}
    boxes |= {node_id: group_of[node.home] for node_id, node in added.nodes.items() if node.home is not None}
    return boxes


def _diff_crossings(
    spec: Spec, group_of: Mapping[str, str], added: Additions, crossings: Sequence[tuple[str, str, str]]
) -> list[str]:
    """The blocks view's edges against B: A's crossings, dashed where B has none of the edges a
    crossing stands for; then B's wires between boxes, one per tensor and head box, but for those
    A draws already (B reads that tensor into that box too, only into another op of it)."""
    box_of = _box_of(spec, group_of, added)
    wired = {(wire.tail, box_of.get(wire.head, wire.head)) for wire in added.wires}
    kept = wired | {
        (source, group_of[node.block])
        for node in spec.nodes
        for source in node.inputs
        if (source, node.name) not in added.gone
    }
    kept |= {
        (out, f"{OUTPUT_ID}{i}") for i, out in enumerate(spec.outputs) if (out, f"{OUTPUT_ID}{i}") not in added.gone
    }
    lines = [
        edge_line(tail, head, _kept(_shape_edge(spec, source), (source, head) in kept))
        for source, tail, head in crossings
    ]
    seen = {(source, head) for source, _, head in crossings}
    for wire in added.wires:
        tail, head = box_of.get(wire.tail, wire.tail), box_of.get(wire.head, wire.head)
        if tail != head and (wire.tail, head) not in seen:
            seen.add((wire.tail, head))
            lines.append(edge_line(tail, head, _wire_edge(wire)))
    return lines


def network_title(spec: Spec, highlight: Highlight = PLAIN) -> str:
    outputs = ", ".join(fmt(spec.shapes[name]) for name in spec.outputs)
    title = f"{spec.name}: {fmt(spec.input_shape)} -> {outputs}, {spec.params:,} params"
    return f"{title}\n{highlight.legend}" if highlight.legend else title


# -- one block ----------------------------------------------------------------------------------


def find_step(spec: Spec, name: str) -> Step:
    """The step to draw for --block NAME: that step, or the first instance of that block type."""
    for step in spec.steps:
        if step.name == name:
            return step
    for step in spec.steps:
        if step.type == name and is_block_instance(spec, step):
            return step
    raise UnknownBlock(name, block_types(spec), [step.name for step in spec.steps], spec.source)


def _scope(step: Step, node: Node) -> str:
    """`branch_1/branch_1a` for `mixed_7b/branch_1/branch_1a/conv_0`: the branch a node sits in."""
    relative = node.name.removeprefix(step.name + "/")
    return relative.rpartition("/")[0]


def _signature(spec: Spec, step: Step) -> list[tuple[str, str]]:
    """What the block view of one instance shows, to tell instances that would draw differently."""
    prefix = step.name + "/"
    return [(name.removeprefix(prefix), op_label(spec.node(name))) for name in step.nodes]


def _block_title(spec: Spec, step: Step) -> str:
    title = step.type if step.name == step.type else f"{step.type}: {step.name}"
    if not is_block_instance(spec, step):
        return title
    same = [s for s in spec.steps if s.type == step.type and is_block_instance(spec, s)]
    if len(same) == 1:
        return title
    lines = [title, f"{len(same)} instances, {same[0].name} .. {same[-1].name}"]
    drawn = _signature(spec, step)
    differ = [s.name for s in same if s is not step and _signature(spec, s) != drawn]
    if differ:  # e.g. a last block8 without its ReLU: say so rather than hide it
        lines.append(f"drawn: {step.name}; {_few(differ)} {'differs' if len(differ) == 1 else 'differ'}")
    return "\n".join(lines)


def _few(names: Sequence[str], limit: int = 4) -> str:
    return ", ".join(names) if len(names) <= limit else ", ".join(names[:limit]) + f" and {len(names) - limit} more"


def block_dot(
    spec: Spec,
    name: str,
    rankdir: str = "TB",
    highlight: Highlight = PLAIN,
    every_shape: bool = False,
    titled: bool = True,
) -> str:
    """One block instance op by op, its input at the top and its output at the bottom. Edges into
    a concat or an add carry their shapes; with `every_shape`, every edge does (the viewer's).
    Without `titled` the graph has no title, which compares the instance with every other of its
    type (the viewer draws a thousand instances and titles them itself)."""
    step = find_step(spec, name)
    nodes = [spec.node(name) for name in step.nodes]
    sources = list(step.inputs)
    external = {source: f"{INPUT_ID}{index}" for index, source in enumerate(sources)}

    body: list[str] = []
    for source, node_id in external.items():
        label = f"Input\n{fmt(spec.shapes[source])}" if len(sources) == 1 else f"{source}\n{fmt(spec.shapes[source])}"
        body.append(node_line(node_id, {**TERMINAL, "label": label, "class": "io", "tooltip": source}))
    body += block_ops(step, nodes, {"class": "layer"}, highlight)
    added = highlight.added
    homed = added.by_home().get(step.name, []) if added is not None else []
    body += [_added_op(i, node, {"class": "layer", "group": f"{step.name}/{node.scope}"}) for i, node in homed]
    body.append(node_line(OUTPUT_ID, {**TERMINAL, "label": f"Output\n{fmt(spec.shapes[step.output])}", "class": "io"}))

    shortcuts: list[str] = []
    for node in nodes:
        for source in dict.fromkeys(node.inputs):
            shown = _shape_edge(spec, source) if every_shape else _join_edge(spec, node, source)
            edge = edge_line(external.get(source, source), node.name, _kept(shown, highlight.keeps(source, node.name)))
            # Drawn last, a shortcut goes around the branches instead of through them.
            residual = kind(node.op).operands == "shortcut"
            (shortcuts if residual and source in external else body).append(edge)
    body += shortcuts
    ends_alike = added is None or step.name not in added.outputs
    body.append(edge_line(step.output, OUTPUT_ID, {} if ends_alike else _gone({"tooltip": step.output})))
    if added is not None:
        body += _block_wires(step, external, added, {i for i, _ in homed})
        body.append(legend_line())
    graph = {**GRAPH_STYLE, "rankdir": rankdir, "ordering": "out"}
    if titled:
        title = _block_title(spec, step)
        graph.update(label=title + (f"\n{highlight.legend}" if highlight.legend else ""), labelloc="t")
    return digraph(f"{spec.name}/{step.name}", body, graph)


def block_ops(step: Step, nodes: Sequence[Node], attrs: dict[str, str], highlight: Highlight = PLAIN) -> list[str]:
    """The node lines of one block instance, laid out as the paper draws a module. `group` keeps
    each branch's ops in one straight column; the graph's `ordering=out` keeps the columns in the
    order the branches are written (the concat order); and the first op of every branch sits
    right under the input, where dot would otherwise let a short branch sink."""
    inside = {n.name for n in nodes}
    lines = [
        node_line(n.name, {**_op_box(n, highlight), **attrs, "group": f"{step.name}/{_scope(step, n)}"}) for n in nodes
    ]
    heads = [n.name for n in nodes if n.inputs and not any(source in inside for source in n.inputs)]
    if len(heads) > 1:
        lines.append("{rank=same; " + " ".join(quote(head) for head in heads) + "}")
    return lines


def _block_wires(step: Step, external: Mapping[str, str], added: Additions, homed: set[str]) -> list[str]:
    """B's wires into the ops of one block, and into its Output where B's block ends elsewhere. A
    tensor from outside that A's block does not read gets its own input box, green: B reads it."""
    inside = set(step.nodes) | homed
    terminals: dict[str, str] = {}
    edges: list[str] = []
    for wire in added.wires:
        if wire.head not in inside:
            continue
        if wire.tail in inside:
            tail = wire.tail
        elif wire.tail in external:
            tail = external[wire.tail]
        else:
            tail = wire.tail
            label = f"{wire.tensor}\n{wire.shape}"
            attrs = {
                **TERMINAL,
                "label": label,
                "fillcolor": ADDED_FILL,
                "class": "io",
                "tooltip": f"{wire.tensor} (B)",
            }
            terminals.setdefault(tail, node_line(tail, attrs))
        edges.append(edge_line(tail, wire.head, _wire_edge(wire)))
    if step.name in added.outputs:
        edges.append(edge_line(added.outputs[step.name].tail, OUTPUT_ID, _wire_edge(added.outputs[step.name])))
    return [*terminals.values(), *edges]


def _join_edge(spec: Spec, node: Node, source: str) -> dict[str, str]:
    """Edges into a concat or an add carry their shapes: that is where the widths must add up."""
    return _shape_edge(spec, source) if node.op in OpGroup.JOINING else {"tooltip": source}


# -- the layers view ----------------------------------------------------------------------------


def layers_dot(spec: Spec, rankdir: str = "TB", highlight: Highlight = PLAIN) -> str:
    """Every IR node, one cluster per block instance; one edge per (input, node) pair."""
    body: list[str] = []
    steps = {step.name: step for step in spec.steps}
    added = highlight.added
    homes = added.by_home() if added is not None else {}
    for block, nodes in _by_block(spec):
        step = steps.get(block)
        extra = [_added_op(i, node, {"class": "layer"}) for i, node in homes.get(block, [])]
        if step is None or not is_block_instance(spec, step):  # the input, top-level ops
            body += [node_line(n.name, {**_op_box(n, highlight), "class": "layer"}) for n in nodes] + extra
            continue
        label = step.name if step.name == step.type else f"{step.name} ({step.type})"
        body.append(f"subgraph {quote('cluster_' + block)} {{")
        body.append(f"  label={quote(label)}; style={quote('rounded')}; color={quote('#999999')};")
        body += [f"  {line}" for line in [*block_ops(step, nodes, {"class": "layer"}, highlight), *extra]]
        body.append("}")
    if added is not None:
        body += _added_layers(added)
    for node in spec.nodes:
        for source in dict.fromkeys(node.inputs):
            body.append(
                edge_line(source, node.name, _kept(_shape_edge(spec, source), highlight.keeps(source, node.name)))
            )
    if added is not None:
        # The layers view has no Output boxes: B's outputs show as the ops they are.
        body += [edge_line(w.tail, w.head, _wire_edge(w)) for w in added.wires if not w.head.startswith(OUTPUT_ID)]
        body.append(legend_line())
    graph = {
        **GRAPH_STYLE,
        "rankdir": rankdir,
        "ordering": "out",
        "label": network_title(spec, highlight),
        "labelloc": "t",
    }
    return digraph(spec.name, body, graph)


def _added_layers(added: Additions) -> list[str]:
    """The nodes of the steps B adds, a block instance in its own cluster, framed green."""
    lines: list[str] = []
    for step in (step for box in added.boxes for step in box.steps):
        ops = [_added_op(added_id(name), added.nodes[added_id(name)], {"class": "layer"}) for name in step.nodes]
        if step.kind != "block":
            lines += ops
            continue
        label = (step.name if step.name == step.type else f"{step.name} ({step.type})") + "\nadded by B"
        lines.append(f"subgraph {quote('cluster_' + added_id(step.name))} {{")
        lines.append(f"  label={quote(label)}; style={quote('rounded')}; color={quote(ADDED_LINE)};")
        lines += [f"  {line}" for line in ops]
        lines.append("}")
    return lines


def _by_block(spec: Spec) -> Iterator[tuple[str, list[Node]]]:
    """The nodes of each block instance together, blocks in the order their first node comes."""
    blocks: dict[str, list[Node]] = {}
    for node in spec.nodes:
        blocks.setdefault(node.block, []).append(node)
    yield from blocks.items()


# -- entry points -------------------------------------------------------------------------------


def to_dot(
    spec: Spec, level: str = "blocks", block: str | None = None, rankdir: str = "TB", highlight: Highlight = PLAIN
) -> str:
    """The DOT text of one view: `block` (a block type or a step name) wins over `level`."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if block is not None:
        return block_dot(spec, block, rankdir, highlight)
    if level == "blocks":
        return blocks_dot(spec, rankdir, highlight)
    if level == "layers":
        return layers_dot(spec, rankdir, highlight)
    raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")


def check_size(dot_text: str) -> None:
    """RenderError for a view with more boxes than Graphviz lays out in reasonable time: its
    layout grows much faster than linearly, to minutes, then hours."""
    boxes = sum(1 for line in dot_text.splitlines() if _NODE_STATEMENT.match(line))
    if boxes > MAX_DRAWN_NODES:
        raise RenderError(
            f"this view has {boxes} boxes, more than Graphviz lays out in reasonable time (limit "
            f"{MAX_DRAWN_NODES}); draw --level blocks or one --block, or write --format dot"
        )


def to_image(dot_text: str, fmt_name: str, timeout: float = 600.0) -> bytes:
    """Run Graphviz's `dot` on DOT text: svg, png or pdf bytes (dot is given back as it is)."""
    if fmt_name == "dot":
        return dot_text.encode("utf-8")
    if fmt_name not in FORMATS or fmt_name == "html":
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt_name!r}")
    check_size(dot_text)
    program = shutil.which("dot")
    if program is None:
        raise RenderError(
            "Graphviz's 'dot' program is not installed, so svg, png and pdf cannot be drawn; "
            "install Graphviz (Debian/Ubuntu: apt-get install graphviz) or write --format dot"
        )
    try:
        command = [program, f"-T{fmt_name}"]  # a list, no shell: nothing in the text is ever interpreted
        data = dot_text.encode("utf-8")
        result = subprocess.run(command, input=data, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"running Graphviz's dot failed: {exc}") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
        raise RenderError(f"Graphviz's dot failed: {message}")
    return result.stdout
