"""Static shape inference: each op kind's shape rule (`archspec.ops`), exact valid/same arithmetic.

Shapes are (H, W, C) for feature maps and (C,) for vectors, batch left out. A node whose input
could not be shaped is skipped, so one mistake is reported once, not at every node after it; an
add or concat that does not fit still passes a best-guess shape on, so that later, independent
mistakes are found in the same run.
"""

from __future__ import annotations

from archspec.errors import Collector
from archspec.ir import Node
from archspec.ir.graph import Graph, node, ordered
from archspec.limits import MAX_TENSOR_ELEMENTS
from archspec.ops import kind, weight_shapes, width_attr
from archspec.ops.base import Shape, ShapeError, elements, fmt

__all__ = ["Shape", "ShapeError", "elements", "fmt", "infer"]


def infer(graph: Graph, errors: Collector) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for n in ordered(graph):
        if any(source not in shapes for source in n.inputs):
            continue
        try:
            shapes[n.name] = kind(n.op).shape(n, [shapes[s] for s in n.inputs], lambda name: node(graph, name))
            _check_size(n, shapes[n.name], shapes[n.inputs[0]][-1] if n.inputs else 0)
        except ShapeError as exc:
            errors.error(exc.pos or n.pos, f"{n.op} '{n.name}': {exc}", exc.hint, group=f"shape of {n.op}")
            if exc.recovered is not None:
                shapes[n.name] = exc.recovered
    return shapes


def _check_size(n: Node, out: Shape, in_width: int) -> None:
    """ShapeError for an output or a weight too large for any framework to allocate or index:
    past MAX_TENSOR_ELEMENTS (int32 indexing), a network can be checked but never built."""
    tensors = {
        "output": out,
        **{f"weight '{role}'": shape for role, shape in weight_shapes(n.op, n.attrs, in_width).items()},
    }
    for what, shape in tensors.items():
        if elements(shape) > MAX_TENSOR_ELEMENTS:
            width = width_attr(n.op)
            raise ShapeError(
                f"its {what} of {fmt(shape)} has {elements(shape):,} elements; the limit is {MAX_TENSOR_ELEMENTS:,}",
                pos=n.where(width) if width else None,
                hint="no framework indexes a tensor this large (int32 offsets)",
            )
