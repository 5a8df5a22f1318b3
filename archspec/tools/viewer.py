"""`archspec render SPEC -o net.html`: one self-contained page to explore a network.

The page opens on the blocks view. Clicking a collapsed run of repeats opens it into its
instances, clicking an instance opens it into its branches and ops, and clicking the frame's
title folds it back; the view pans (drag), zooms (wheel), and finds nodes by name or op kind.
The side panel shows the selected node or block: its op and attributes, the shapes it reads and
gives, its params, MACs and activation bytes with their share of the network, and the spec line
it comes from. With a `Highlight` (`render A --diff B`), B's changes are coloured as in the
other views.

Every layout is Graphviz's, computed here and embedded: the blocks view as `render` draws it,
and each block instance as `--block` draws it. The page lays them out in place (an opened block
pushes what is below it down) with the small script in `viewer.js`, written for this page; it
fetches nothing. The data is JSON in a `<script type="application/json">` element, with `<`
escaped, so no spec text can end the element or be read as markup.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from importlib import resources
from typing import TYPE_CHECKING, Any

from archspec.analysis.shapes import fmt
from archspec.ops import kind
from archspec.tools import render
from archspec.tools.diff import show
from archspec.tools.render import PLAIN, Highlight, RenderError

if TYPE_CHECKING:
    from archspec.spec import Spec

POINTS = 72.0  # Graphviz sizes nodes in inches and places them in points
# Boxes of one view past which the page lays it out itself: Graphviz takes seconds for a few hundred
# (a chain of 1,500 takes 3 s, 9,000 over two minutes), and a page must be written in seconds.
GRAPHVIZ_BOXES = 300


def page(spec: Spec, highlight: Highlight = PLAIN, timeout: float = 600.0) -> str:
    """The HTML text of the viewer of `spec`."""
    data = json.dumps(model(spec, highlight, timeout), separators=(",", ":"), ensure_ascii=False)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    assets = resources.files("archspec.tools")
    script = (assets / "viewer.js").read_text(encoding="utf-8")
    style = (assets / "viewer.css").read_text(encoding="utf-8")
    title = _escape(f"{spec.name}: archspec")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>\n{style}</style>\n</head>\n<body>\n"
        '<header><input id="search" type="search" placeholder="find a node by name or op (conv, add ...)" '
        'autocomplete="off"><button id="fit" type="button">fit</button><span id="legend"></span></header>\n'
        '<main><svg id="view" xmlns="http://www.w3.org/2000/svg"></svg><ol id="results"></ol>'
        '<aside id="panel"><p class="hint">Click a block to open or select it, an op to select it.</p></aside></main>\n'
        f'<script id="data" type="application/json">{data}</script>\n<script>\n{script}</script>\n</body>\n</html>\n'
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def layout(dot_text: str, timeout: float) -> dict[str, Any]:
    """Graphviz's layout of DOT text: each node's centre and size and each edge's spline and
    label, in points, y downwards (as SVG has it)."""
    render.check_size(dot_text)
    program = shutil.which("dot")
    if program is None:
        raise RenderError(
            "Graphviz's 'dot' program is not installed, and the page embeds its layout; "
            "install Graphviz (Debian/Ubuntu: apt-get install graphviz)"
        )
    try:
        done = subprocess.run([program, "-Tjson0"], input=dot_text.encode(), capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"running Graphviz's dot failed: {exc}") from None
    if done.returncode != 0:
        raise RenderError(f"Graphviz's dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    drawn = json.loads(done.stdout)
    height = float(drawn["bb"].split(",")[3])

    def point(text: str) -> list[float]:
        x, y = text.split(",")[:2]
        return [round(float(x), 1), round(height - float(y), 1)]

    objects = drawn.get("objects", [])
    nodes = [
        {
            "id": o["name"],
            "x": point(o["pos"])[0],
            "y": point(o["pos"])[1],
            "w": round(float(o["width"]) * POINTS, 1),
            "h": round(float(o["height"]) * POINTS, 1),
            "label": o.get("label", o["name"]),
            "fill": o.get("fillcolor", "#ffffff"),
            "kind": o.get("class", ""),
        }
        for o in objects
        if "pos" in o
    ]
    edges = []
    for e in drawn.get("edges", []):
        parts = e["pos"].split()
        end = [point(p[2:]) for p in parts if p.startswith("e,")]
        spline = [point(p) for p in parts if not p.startswith(("e,", "s,"))]
        edges.append(
            {
                "from": objects[e["tail"]]["name"],
                "to": objects[e["head"]]["name"],
                "points": spline + end,
                "label": e.get("label", "").strip(),
                "at": point(e["lp"]) if "lp" in e else None,
            }
        )
    return {"w": float(drawn["bb"].split(",")[2]), "h": height, "nodes": nodes, "edges": edges}


def _source(pos: Any) -> str:
    return f"{pos.file}:{pos.line}:{pos.col}"


def _shown(attr: str, value: Any) -> str:
    """An attribute value as a spec writes it (`1x7`, `none`); a batch norm as its settings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return ", ".join(f"{k} {show(k, v)}" for k, v in dataclasses.asdict(value).items())
    return show(attr, value)


_TOOLTIP = re.compile(r'tooltip="(?:[^"\\]|\\.)*"')  # names of tensors, which the layout does not read
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_NODE_LINE = re.compile(rf"^\s*{_QUOTED} \[(.*)\];$", re.MULTILINE)
_EDGE_LINE = re.compile(rf"^\s*{_QUOTED} -> {_QUOTED} \[(.*)\];$", re.MULTILINE)
_ATTR = re.compile(rf"(\w+)={_QUOTED}")
CHAR_WIDTH, LINE_HEIGHT = 7.0, 15.0  # points of one character and one line of a 12-point label


def _text(quoted: str) -> str:
    """The text of a DOT string `render.quote` wrote."""
    if "\\" not in quoted:
        return quoted
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), quoted)


Graph = tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]


def graph_of(dot_text: str) -> Graph:
    """The boxes (id -> attributes) and edges (tail, head, attributes) of DOT text `render` wrote."""
    boxes = {
        _text(m.group(1)): {k: _text(v) for k, v in _ATTR.findall(m.group(2))} for m in _NODE_LINE.finditer(dot_text)
    }
    edges = [
        (_text(m.group(1)), _text(m.group(2)), {k: _text(v) for k, v in _ATTR.findall(m.group(3))})
        for m in _EDGE_LINE.finditer(dot_text)
    ]
    return boxes, edges


def _box_size(label: str) -> tuple[float, float]:
    rows = label.split("\n")
    return max(54.0, CHAR_WIDTH * max(map(len, rows)) + 18.0), max(36.0, LINE_HEIGHT * len(rows) + 12.0)


def layered(dot_text: str) -> dict[str, Any]:
    """A layout of the view without Graphviz, for views too large for it to lay out in time:
    each box on the row of its longest path from the top, rows side by side, edges as curves
    from a box's bottom to the next one's top. Linear in the boxes and edges."""
    boxes, edges = graph_of(dot_text)
    inputs: dict[str, list[str]] = {name: [] for name in boxes}
    for tail, head, _ in edges:
        inputs[head].append(tail)
    rank: dict[str, int] = {}
    for name in boxes:  # render writes every box after the boxes it reads
        rank[name] = 1 + max((rank.get(t, 0) for t in inputs[name]), default=-1)
    rows: dict[int, list[str]] = {}
    for name in boxes:
        rows.setdefault(rank[name], []).append(name)
    sizes = {name: _box_size(attrs.get("label", name)) for name, attrs in boxes.items()}
    gap_x, gap_y = 18.0, 36.0
    width = max(sum(sizes[n][0] + gap_x for n in row) for row in rows.values()) if rows else 0.0
    nodes, where, y = [], {}, 0.0
    for index in sorted(rows):
        row = rows[index]
        height = max(sizes[n][1] for n in row)
        x = (width - sum(sizes[n][0] + gap_x for n in row)) / 2
        for name in row:
            w, h = sizes[name]
            where[name] = (x + w / 2 + gap_x / 2, y + height / 2, w, h)
            attrs = boxes[name]
            nodes.append({"id": name, "x": where[name][0], "y": where[name][1], "w": w, "h": h,
                          "label": attrs.get("label", name), "fill": attrs.get("fillcolor", "#ffffff"),
                          "kind": attrs.get("class", "")})  # fmt: skip
            x += w + gap_x
        y += height + gap_y
    lines = []
    for tail, head, attrs in edges:
        (x0, y0, _, h0), (x1, y1, _, h1) = where[tail], where[head]
        start, end = [x0, y0 + h0 / 2], [x1, y1 - h1 / 2]
        middle = (start[1] + end[1]) / 2
        points = [start, [x0, middle], [x1, middle], end]
        at = [(x0 + x1) / 2 + 4 * CHAR_WIDTH, middle] if attrs.get("label") else None
        lines.append({"from": tail, "to": head, "points": points, "label": attrs.get("label", ""), "at": at})
    return {"w": width, "h": max(y - gap_y, 0.0), "nodes": nodes, "edges": lines}


def view(dot_text: str, timeout: float) -> dict[str, Any]:
    """The layout of one view: Graphviz's where it lays the view out in time, else `layered`."""
    if sum(1 for _ in _NODE_LINE.finditer(dot_text)) > GRAPHVIZ_BOXES:
        return layered(dot_text)
    return layout(dot_text, timeout)


def _widened(dot_text: str, widths: dict[str, float]) -> str:
    """DOT text whose boxes are at least `widths` points wide (by box id)."""

    def widen(match: re.Match[str]) -> str:
        width = widths.get(_text(match.group(1)))
        if width is None:
            return match.group(0)
        return f'{match.group(0)[:-2]}, width="{width / POINTS:.3f}"];'

    return _NODE_LINE.sub(widen, dot_text)


def _instance_layouts(spec: Spec, names: list[str], highlight: Highlight, timeout: float) -> dict[str, dict[str, Any]]:
    """Each block instance as `--block` lays it out, every edge labelled. Instances of one
    structure (the same ops, wired alike, whatever their widths, shapes and names) share one
    layout, its boxes as wide as the widest label any of them has there; the page writes each
    instance's own labels into it. A network of a thousand blocks asks Graphviz once per kind
    of block."""
    texts, keys, parsed = {}, {}, {}
    for name in names:
        text = render.block_dot(spec, name, highlight=highlight, every_shape=True, titled=False)
        relative = text.replace(f'"{name}/', '"').replace(f'"{spec.name}/{name}"', '"@"')
        texts[name], keys[name] = text, re.sub(r"[0-9]+", "0", _TOOLTIP.sub("", relative))
        parsed[name] = graph_of(text)
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(keys[name], []).append(name)
    found = {}
    for members in groups.values():
        first = members[0]
        widths: dict[str, float] = {}
        for member in members:
            for box, attrs in parsed[member][0].items():
                box = f"{first}/{box.removeprefix(member + '/')}" if box.startswith(member + "/") else box
                widths[box] = max(widths.get(box, 0.0), _box_size(attrs.get("label", box))[0])
        shared = view(_widened(texts[first], widths), timeout)
        for member in members:
            found[member] = _renamed(shared, first, member, parsed[member])
    return found


def _renamed(shared: dict[str, Any], first: str, name: str, graph: Graph) -> dict[str, Any]:
    """The shared layout of `first` as the layout of instance `name`: its ids, and its own labels
    for the boxes that are no ops (its inputs and output) and for every edge (the shapes)."""

    def renamed(node_id: str) -> str:
        return f"{name}/{node_id.removeprefix(first + '/')}" if node_id.startswith(first + "/") else node_id

    boxes, edges = graph
    edge_labels = {(tail, head): attrs.get("label", "") for tail, head, attrs in edges}
    nodes = []
    for n in shared["nodes"]:
        node_id = renamed(n["id"])
        nodes.append({**n, "id": node_id, "label": boxes.get(node_id, {}).get("label", n["label"])})
    lines = []
    for e in shared["edges"]:
        tail, head = renamed(e["from"]), renamed(e["to"])
        lines.append({**e, "from": tail, "to": head, "label": edge_labels.get((tail, head), e["label"])})
    return {**shared, "nodes": nodes, "edges": lines}


def model(spec: Spec, highlight: Highlight = PLAIN, timeout: float = 600.0) -> dict[str, Any]:
    """Everything the page shows, JSON-ready."""
    summary = spec.summary()  # the figures `archspec summary` prints, which the panel must equal
    totals = {key: summary[key] for key in ("params", "macs", "activation_bytes")}
    figures = {entry["name"]: entry for entry in summary["nodes"]}
    blocks = {entry["name"]: entry for entry in summary["blocks"]}
    activation = {name: entry["activation_bytes"] for name, entry in figures.items()}
    nodes = {}
    for node in spec.nodes:
        cost = figures[node.name]
        nodes[node.name] = {
            "op": node.op,
            "label": kind(node.op).label(node),
            "block": node.block,
            "attrs": {k: _shown(k, v) for k, v in node.attrs.items()},
            "inputs": list(node.inputs),
            "input_shapes": [fmt(spec.shapes[i]) for i in node.inputs],
            "output_shape": fmt(spec.shapes[node.name]),
            "params": cost["params"],
            "macs": cost["macs"],
            "activation_bytes": cost["activation_bytes"],
            "source": _source(node.pos),
            "status": highlight.nodes.get(node.name),
        }
    steps = {}
    expandable = [s.name for s in spec.steps if render.is_block_instance(spec, s) or s.kind == "branches"]
    layouts = _instance_layouts(spec, expandable, highlight, timeout)
    for step in spec.steps:
        steps[step.name] = {
            "type": step.type,
            "kind": step.kind,
            "output_shape": fmt(spec.shapes[step.output]),
            "params": blocks[step.name]["params"],
            "macs": blocks[step.name]["macs"],
            "activation_bytes": sum(activation[n] for n in step.nodes),
            "source": _source(step.pos),
            "nodes": list(step.nodes),
            "status": highlight.steps.get(step.name),
            "layout": layouts.get(step.name),
        }
    groups = {group.id: [step.name for step in group.steps] for group in render.step_groups(spec)}
    top = view(render.blocks_dot(spec, highlight=highlight), timeout)
    return {
        "name": spec.name,
        "source": spec.source,
        "title": render.network_title(spec, highlight),
        "totals": totals,
        "top": top,
        "groups": groups,
        "steps": steps,
        "nodes": nodes,
        "legend": highlight.legend,
    }
