"""The IR graph: a networkx DiGraph whose nodes carry their frozen `Node` record.

Edges give the topology; each node's `inputs` tuple keeps the order and multiplicity of its
operands (concat order matters). Graph attributes: `name`, `outputs`, `steps`.
"""

from __future__ import annotations

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
    """Nodes so that every node comes after its inputs; ties keep the order written."""
    for name in nx.topological_sort(graph):
        yield node(graph, name)
