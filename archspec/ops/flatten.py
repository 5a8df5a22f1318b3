"""flatten: HxWxC to a vector, in that order (TensorFlow's), so dense weights are portable."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.base import Lookup, OpKind, Shape, elements, fixed, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    return (elements(shapes[0]),)


register(OpKind("flatten", "Flatten HxWxC to a vector.", {}, shape, fixed("Flatten")))
