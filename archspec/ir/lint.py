"""Invariants of the IR, checked after expansion: one input, acyclic, everything leads to an output."""

from __future__ import annotations

import networkx as nx

from archspec.errors import Collector
from archspec.ir.graph import Graph, node
from archspec.ops import INPUT


def lint(graph: Graph, errors: Collector) -> None:
    inputs = [name for name in graph if node(graph, name).op == INPUT]
    if len(inputs) != 1:
        first = node(graph, inputs[-1]) if inputs else None
        errors.error(
            first.pos if first else node(graph, next(iter(graph))).pos,
            f"a network has exactly one input, found {len(inputs)}",
        )
    cycle = [] if nx.is_directed_acyclic_graph(graph) else nx.find_cycle(graph)  # the test is the faster
    if cycle:
        names = [edge[0] for edge in cycle] + [cycle[0][0]]
        closing = node(graph, cycle[-1][1])
        errors.error(
            closing.pos, f"cycle: {' -> '.join(repr(n) for n in names)}", hint="a node cannot depend on its own output"
        )
        return  # reachability below assumes a DAG
    outputs = graph.graph["outputs"]
    used = set(outputs)
    for output in outputs:
        used |= nx.ancestors(graph, output)
    for name in graph:
        if name not in used:
            errors.error(
                node(graph, name).pos,
                f"node '{name}' does not lead to any output",
                hint="remove it, use it as an input, or list it under 'outputs'",
            )
