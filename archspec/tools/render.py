"""Drawings of a checked spec in the style of the paper's figures, as Graphviz DOT text.

Three views:

* `blocks`: the overall schema. One box per top-level step, with consecutive instances of the
  same block collapsed into one box ("7 x inception_b"), and every edge labelled with the shape
  of the tensor it carries.
* a single block (`block_dot`): one block instance op by op, its branches side by side in the
  order written, each op labelled as the paper's figures label it ("1x7 Conv (224)", "3x3
  MaxPool (stride 2 V)"), meeting at a filter concat or a scaled add.
* `layers`: every IR node, one cluster per block instance, shapes on the edges.

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


@dataclass(frozen=True)
class Highlight:
    """What another spec B changes in the drawn spec A (`render A --diff B`, made by
    `archspec.tools.diff.highlight`): the steps and nodes of A that B changes or lacks are filled in
    colour, and the title names B and what it adds, which a drawing of A has no box for."""

    steps: Mapping[str, str] = field(default_factory=dict)  # A's step name -> "changed" | "removed"
    nodes: Mapping[str, str] = field(default_factory=dict)  # A's node name -> "changed" | "removed"
    legend: str = ""

    def fill(self, status: str | None, usual: str) -> str:
        return {"changed": CHANGED_FILL, "removed": REMOVED_FILL}.get(status or "", usual)


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


def step_groups(spec: Spec) -> list[Group]:
    """The boxes of the blocks view: a run of consecutive instances of the same block type is one
    group (the paper's "7 x Inception-B"); a top-level op or branches step is always its own."""
    groups: list[list[Step]] = []
    for step in spec.steps:
        last = groups[-1][-1] if groups else None
        if last and last.type == step.type and is_block_instance(spec, last) and is_block_instance(spec, step):
            groups[-1].append(step)
        else:
            groups.append([step])
    return [Group(tuple(steps)) for steps in groups]


def _group_label(spec: Spec, group: Group) -> str:
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
        label = _group_label(spec, group)
        statuses = [highlight.steps.get(step.name) for step in group.steps]
        if any(statuses):
            fill = highlight.fill("removed" if all(s == "removed" for s in statuses) else "changed", fill)
            label += "\n" + _group_changes(statuses)
        body.append(node_line(group.id, {"label": label, "fillcolor": fill, "class": "step"}))
    for index, _ in enumerate(spec.outputs):
        body.append(node_line(f"{OUTPUT_ID}{index}", {**TERMINAL, "label": "Output", "class": "io"}))

    # One edge per tensor that leaves a box for another box; repeats of a group swallow theirs.
    seen: set[tuple[str, str]] = set()
    for node in spec.nodes:
        for source in node.inputs:
            tail, head = group_of[spec.node(source).block], group_of[node.block]
            if tail != head and (source, head) not in seen:
                seen.add((source, head))
                body.append(edge_line(tail, head, _shape_edge(spec, source)))
    for index, output in enumerate(spec.outputs):
        body.append(edge_line(group_of[spec.node(output).block], f"{OUTPUT_ID}{index}", _shape_edge(spec, output)))
    heading = network_title(spec, highlight)
    return digraph(spec.name, body, {**GRAPH_STYLE, "rankdir": rankdir, "label": heading, "labelloc": "t"})


def _group_changes(statuses: Sequence[str | None]) -> str:
    """`in B: changed`, or for a run of repeats `in B: 5 of 10 removed, 5 changed`."""
    if len(statuses) == 1:
        return f"in B: {statuses[0]}"
    counts = [f"{statuses.count(s)} {s}" for s in ("removed", "changed") if s in statuses]
    return f"in B: {', '.join(counts)} of {len(statuses)}"


def _shape_edge(spec: Spec, source: str) -> dict[str, str]:
    """An edge labelled with the shape of the tensor it carries; the tooltip names that tensor."""
    return {"label": f" {fmt(spec.shapes[source])}", "tooltip": source}


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
    body.append(node_line(OUTPUT_ID, {**TERMINAL, "label": f"Output\n{fmt(spec.shapes[step.output])}", "class": "io"}))

    shortcuts: list[str] = []
    for node in nodes:
        for source in dict.fromkeys(node.inputs):
            shown = _shape_edge(spec, source) if every_shape else _join_edge(spec, node, source)
            edge = edge_line(external.get(source, source), node.name, shown)
            # Drawn last, a shortcut goes around the branches instead of through them.
            residual = kind(node.op).operands == "shortcut"
            (shortcuts if residual and source in external else body).append(edge)
    body += shortcuts
    body.append(edge_line(step.output, OUTPUT_ID, {}))
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


def _join_edge(spec: Spec, node: Node, source: str) -> dict[str, str]:
    """Edges into a concat or an add carry their shapes: that is where the widths must add up."""
    return _shape_edge(spec, source) if node.op in OpGroup.JOINING else {"tooltip": source}


# -- the layers view ----------------------------------------------------------------------------


def layers_dot(spec: Spec, rankdir: str = "TB", highlight: Highlight = PLAIN) -> str:
    """Every IR node, one cluster per block instance; one edge per (input, node) pair."""
    body: list[str] = []
    steps = {step.name: step for step in spec.steps}
    for block, nodes in _by_block(spec):
        step = steps.get(block)
        if step is None or not is_block_instance(spec, step):  # the input, top-level ops
            body += [node_line(n.name, {**_op_box(n, highlight), "class": "layer"}) for n in nodes]
            continue
        label = step.name if step.name == step.type else f"{step.name} ({step.type})"
        body.append(f"subgraph {quote('cluster_' + block)} {{")
        body.append(f"  label={quote(label)}; style={quote('rounded')}; color={quote('#999999')};")
        body += [f"  {line}" for line in block_ops(step, nodes, {"class": "layer"}, highlight)]
        body.append("}")
    for node in spec.nodes:
        for source in dict.fromkeys(node.inputs):
            body.append(edge_line(source, node.name, _shape_edge(spec, source)))
    graph = {
        **GRAPH_STYLE,
        "rankdir": rankdir,
        "ordering": "out",
        "label": network_title(spec, highlight),
        "labelloc": "t",
    }
    return digraph(spec.name, body, graph)


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
