"""input: the network's input image, HxWxC. The expander makes it from the spec's `input:`."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import Lookup, OpKind, Shape, fixed, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    given: Shape = n.attrs["shape"]
    return given


register(OpKind("input", "The network's input.", {"shape": REQUIRED}, shape, fixed("Input"), in_network=False))
