"""The IR graph: a networkx DiGraph whose nodes carry their frozen `Node` record.

Edges give the topology; each node's `inputs` tuple keeps the order and multiplicity of its
operands (concat order matters). Graph attributes: `name`, `outputs`, `steps`, `dropped`, `cuts`
(the nodes every path from the input to the network's own first output passes through, input first)
and `features` (the nodes the spec's `features:` names, or None).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, TypeAlias

import networkx as nx

from archspec import ops
from archspec.frontend.expand import Expansion
from archspec.ir import Node, Step

if TYPE_CHECKING:
    Graph: TypeAlias = nx.DiGraph[str]
else:
    Graph = nx.DiGraph


def build(expansion: Expansion) -> Graph:
    """The graph of the expansion. Where outputs were chosen, the nodes that none of them needs
    are left out, and so are the steps left empty (the graph attribute `dropped` names them)."""
    graph: Graph = nx.DiGraph(name=expansion.name, outputs=expansion.outputs, dropped=())
    for node in expansion.nodes:
        graph.add_node(node.name, node=node)
    for node in expansion.nodes:
        for source in node.inputs:
            graph.add_edge(source, node.name)
    steps = tuple(expansion.steps)
    # Before chosen outputs leave nodes out: a feature extractor keeps the network's cut points.
    graph.graph["cuts"] = _dominators(graph, expansion)
    graph.graph["features"] = None if expansion.features is None else tuple(f.node for f in expansion.features)
    if expansion.chosen_at is not None and expansion.outputs:
        needed = set(expansion.outputs).union(*(nx.ancestors(graph, o) for o in expansion.outputs))
        needed.add("input")  # the network's input stays, even when an output does not read it
        dropped = tuple(n.name for n in expansion.nodes if n.name not in needed)
        graph.remove_nodes_from(dropped)
        graph.graph["dropped"] = dropped
    contents = _with_contents(steps, graph)
    graph.graph["steps"] = tuple(step for step in contents if step.nodes or not graph.graph["dropped"])
    return graph


def _dominators(graph: Graph, expansion: Expansion) -> tuple[str, ...]:
    """The nodes on every path from the input to the network's own output, in order (the input
    and the output too); none where the output does not read the input."""
    output = expansion.network_output
    if output is None or output not in graph:
        return ()
    # A `like:` operand gives only its size: a path through it carries no data (a segmentation
    # head's resize `like: input` does not make the whole backbone avoidable).
    sizes = [
        (n.inputs[1], n.name)
        for n in expansion.nodes
        if ops.kind(n.op).operands == "like" and len(n.inputs) == 2 and n.inputs[0] != n.inputs[1]
    ]
    parent = nx.immediate_dominators(nx.restricted_view(graph, [], sizes) if sizes else graph, "input")
    if output not in parent and output != "input":
        return ()
    chain = [output]
    while chain[-1] != "input":
        chain.append(parent[chain[-1]])
    return tuple(reversed(chain))


def _with_contents(steps: tuple[Step, ...], graph: Graph) -> tuple[Step, ...]:
    """The steps, each with its kind, its nodes (inputs first, as `ordered` gives them) and the
    outside nodes they read: the one place where nodes are grouped by step and a step is told to
    be a block or not."""
    owned: dict[str, list[Node]] = {}
    for n in ordered(graph):
        owned.setdefault(n.block, []).append(n)
    found = []
    for step in steps:
        nodes = owned.get(step.name, [])
        inside = {n.name for n in nodes}
        inputs = tuple(dict.fromkeys(i for n in nodes for i in n.inputs if i not in inside))
        kind = "block" if step.name not in inside else ("branches" if step.type == "branches" else "op")
        found.append(replace(step, kind=kind, nodes=tuple(n.name for n in nodes), inputs=inputs))
    return tuple(found)


def node(graph: Graph, name: str) -> Node:
    record: Node = graph.nodes[name]["node"]
    return record


def ordered(graph: Graph) -> Iterator[Node]:
    """Nodes so that every node comes after its inputs and otherwise in the order written: of the
    nodes whose inputs are ready, the one written first goes next. Branches therefore come one
    after another, as in the spec (a plain topological sort interleaves them)."""
    written = {name: index for index, name in enumerate(graph)}
    waiting = {name: graph.in_degree(name) for name in graph}
    ready = [(written[name], name) for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    while ready:
        _, name = heapq.heappop(ready)
        yield node(graph, name)
        for successor in graph.successors(name):
            waiting[successor] -= 1
            if waiting[successor] == 0:
                heapq.heappush(ready, (written[successor], successor))
