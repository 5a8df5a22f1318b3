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
_TITLE = re.compile(r'^  label="(?:[^"\\]|\\.)*";$', re.MULTILINE)  # the graph's own label: the page draws its own


def _instance_layout(
    spec: Spec, name: str, highlight: Highlight, cache: dict[str, dict[str, Any]], timeout: float
) -> dict[str, Any]:
    """One block instance as `--block` lays it out, every edge labelled. Instances that would
    draw alike (the same ops, shapes and colours, whatever their names) share one layout, so
    that a network of a thousand equal blocks asks Graphviz once."""
    prefix = f'"{name}/'
    text = _TITLE.sub("", render.block_dot(spec, name, highlight=highlight, every_shape=True), count=1)
    key = _TOOLTIP.sub("", text.replace(prefix, '"').replace(f'"{spec.name}/{name}"', '"@"'))
    if key not in cache:
        cache[key] = layout(text, timeout)
        cache[key]["prefix"] = name
    found = cache[key]
    if found["prefix"] == name:
        return found

    def renamed(node_id: str) -> str:
        return f"{name}/{node_id.removeprefix(found['prefix'] + '/')}" if not node_id.startswith("@") else node_id

    return {
        **found,
        "prefix": name,
        "nodes": [{**n, "id": renamed(n["id"])} for n in found["nodes"]],
        "edges": [{**e, "from": renamed(e["from"]), "to": renamed(e["to"])} for e in found["edges"]],
    }


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
    cache: dict[str, dict[str, Any]] = {}
    for step in spec.steps:
        expandable = render.is_block_instance(spec, step) or step.kind == "branches"
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
            "layout": _instance_layout(spec, step.name, highlight, cache, timeout) if expandable else None,
        }
    groups = {group.id: [step.name for step in group.steps] for group in render.step_groups(spec)}
    top = layout(render.blocks_dot(spec, highlight=highlight), timeout)
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
