"""Static cost of every node: trainable parameters, multiply-accumulates and activation memory.

Parameters follow PyTorch's convention: conv and dense weights and biases, and batch-norm gamma
and beta where enabled (running statistics are buffers, not parameters). MACs count the
multiply-accumulates of conv and dense layers only; FLOPs are reported as 2 x MACs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archspec.analysis.shapes import Shape, elements
from archspec.errors import Collector
from archspec.ir import Node
from archspec.ir.graph import Graph, node
from archspec.limits import MAX_ACTIVATION_ELEMENTS, MAX_PARAMS
from archspec.ops import kind

BYTES_PER_ELEMENT = 4  # activation memory is given for float32, batch 1


@dataclass(frozen=True)
class Cost:
    params: int
    macs: int
    activation_bytes: int


def node_cost(n: Node, shapes: dict[str, Shape]) -> Cost:
    out = shapes[n.name]
    params, macs = kind(n.op).cost(n, [shapes[s] for s in n.inputs], out)
    return Cost(params, macs, elements(out) * BYTES_PER_ELEMENT)


def check_totals(graph: Graph, costs: dict[str, Cost], errors: Collector) -> None:
    """Errors for a network too large to build as a whole, though each tensor fits: one error per
    budget, at the node that uses the most of it."""
    budgets: dict[str, tuple[int, Callable[[Cost], int]]] = {
        "parameters": (MAX_PARAMS, lambda c: c.params),
        "activation elements per image": (MAX_ACTIVATION_ELEMENTS, lambda c: c.activation_bytes // BYTES_PER_ELEMENT),
    }
    for what, (limit, amount) in budgets.items():
        total = sum(amount(c) for c in costs.values())
        if total > limit:
            largest = max(costs, key=lambda name: amount(costs[name]))
            errors.error(
                node(graph, largest).pos,
                f"the network has {total:,} {what}; the limit is {limit:,}",
                hint=f"the largest share is {amount(costs[largest]):,}, in '{largest}'",
            )
