"""A reader for the DOT that `archspec render` writes, and only that: every line must be one of
the forms render writes, so a stray line fails the test that reads it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STRING = r'"((?:[^"\\]|\\.)*)"'
ATTR = re.compile(rf"(\w+)={STRING}")
HTML_LABEL = re.compile(r", label=<(.*)>$")  # the legend's table, a Graphviz HTML-like label
NODE = re.compile(rf"^{STRING} \[(.*)\];$")
EDGE = re.compile(rf"^{STRING} -> {STRING} \[(.*)\];$")
GRAPH_ATTR = re.compile(rf"^(\w+)={STRING};$")


def unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


@dataclass
class Dot:
    text: str = ""
    graph: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)  # each node's own line, as written
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    cluster_of: dict[str, str] = field(default_factory=dict)
    same_rank: list[list[str]] = field(default_factory=list)

    def of_class(self, kind: str) -> dict[str, dict[str, str]]:
        return {name: attrs for name, attrs in self.nodes.items() if attrs.get("class") == kind}

    def edge(self, tail: str, head: str) -> dict[str, str]:
        """The one edge from `tail` to `head`."""
        found = [attrs for t, h, attrs in self.edges if (t, h) == (tail, head)]
        assert len(found) == 1, f"{len(found)} edges {tail} -> {head}"
        return found[0]


def parse(text: str) -> Dot:
    lines = [line.strip() for line in text.strip().splitlines()]
    assert re.fullmatch(rf"digraph {STRING} \{{", lines[0]) and lines[-1] == "}"
    dot, cluster = Dot(text), None
    for line in lines[1:-1]:
        if m := EDGE.match(line):
            dot.edges.append((unquote(m[1]), unquote(m[2]), attrs(m[3])))
        elif m := NODE.match(line):
            name = unquote(m[1])
            assert name not in dot.nodes, f"node {name} declared twice"
            dot.nodes[name], dot.lines[name] = attrs(m[2]), line
            if cluster:
                dot.cluster_of[name] = cluster
        elif m := GRAPH_ATTR.match(line):
            dot.graph[m[1]] = unquote(m[2])
        elif m := re.fullmatch(rf"subgraph {STRING} \{{", line):
            cluster = unquote(m[1])
        elif line == "}":
            cluster = None
        elif line.startswith("{rank=same; "):
            dot.same_rank.append([unquote(s) for s in re.findall(STRING, line)])
        elif cluster and line.startswith("label="):
            continue
        else:
            assert re.fullmatch(r"(node|edge) \[.*\];", line), f"unexpected DOT line: {line}"
    for tail, head, _ in dot.edges:
        assert tail in dot.nodes and head in dot.nodes, f"edge {tail} -> {head} to an undeclared node"
    return dot


def attrs(text: str) -> dict[str, str]:
    """A node's or edge's attributes; every one must parse."""
    html = HTML_LABEL.search(text)
    quoted = text[: html.start()] if html else text
    found = {key: unquote(value) for key, value in ATTR.findall(quoted)}
    assert ", ".join(f'{k}="{v}"' for k, v in ATTR.findall(quoted)) == quoted, f"unparsed attributes: {text}"
    if html:
        found["label"] = html[1]
    return found
