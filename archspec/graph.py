"""The IR graph: a networkx DiGraph whose nodes carry their frozen `Node` record.

Edges give the topology; each node's `inputs` tuple keeps the order and multiplicity of its
operands (concat order matters). Graph attributes: `name`, `outputs`, `steps`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeAlias

import networkx as nx

from archspec.expand import Expansion
from archspec.ir import Node

if TYPE_CHECKING:
    Graph: TypeAlias = nx.DiGraph[str]
else:
    Graph = nx.DiGraph


def build(expansion: Expansion) -> Graph:
    graph: Graph = nx.DiGraph(name=expansion.name, outputs=expansion.outputs, steps=expansion.steps)
    for node in expansion.nodes:
        graph.add_node(node.name, node=node)
    for node in expansion.nodes:
        for source in node.inputs:
            graph.add_edge(source, node.name)
    return graph


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
