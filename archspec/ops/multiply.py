"""multiply: element-wise product of a feature map and a gate (squeeze-and-excitation).

The gate has the map's shape, or is 1x1xC or a vector of C, broadcast over H and W.
"""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.base import Lookup, OpKind, Shape, ShapeError, fixed, fmt, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    if len(shapes) != 2:
        raise ShapeError(f"multiplies two inputs, got {len(shapes)}", hint="write inputs: [x, gate]")
    x, gate = shapes
    channels = x[-1]
    if gate in (x, (1, 1, channels), (channels,)) and (len(x) == 3 or gate == x):
        return x
    raise ShapeError(
        f"gate '{n.inputs[1]}' is {fmt(gate)} but '{n.inputs[0]}' is {fmt(x)}; a gate has the same shape, "
        f"1x1x{channels} or {channels}",
        hint=f"that input is written at {lookup(n.inputs[1]).pos}",
        recovered=x,
    )


register(
    OpKind(
        "multiply",
        "Element-wise product of inputs [x, gate]; a 1x1xC or C gate is broadcast over H and W.",
        {},
        shape,
        fixed("Multiply"),
        operands="inputs",
        groups=frozenset({"joining"}),
        fill="#e2f5e1",
        keeps_width=True,
    )
)
