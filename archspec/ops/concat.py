"""concat: filter concatenation of several inputs, in the order written."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.base import Lookup, OpKind, Shape, ShapeError, fixed, fmt, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    first = shapes[0]
    for source, other in zip(n.inputs[1:], shapes[1:], strict=True):
        if len(other) != len(first) or other[:-1] != first[:-1]:
            kind = "spatial size" if len(other) == 3 else "rank"
            raise ShapeError(
                f"input '{source}' is {fmt(other[:-1]) or fmt(other)} but '{n.inputs[0]}' is "
                f"{fmt(first[:-1]) or fmt(first)} (filter concat needs the same {kind})",
                hint=f"that input is written at {lookup(source).pos}",
                recovered=(*first[:-1], sum(s[-1] for s in shapes)),
            )
    return (*first[:-1], sum(s[-1] for s in shapes))


register(
    OpKind(
        "concat",
        "Filter concatenation, in the order written.",
        {},
        shape,
        fixed("Filter concat"),
        operands="inputs",
        groups=frozenset({"joining"}),
        fill="#e2f5e1",
        sums_widths=True,
    ),
)
