"""activation: an activation function on its own."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import ACTIVATION_NAMES, OpKind, register, same_shape


def label(node: Node) -> str:
    return ACTIVATION_NAMES[node.attrs["fn"]]


register(OpKind("activation", "An activation function.", {"fn": REQUIRED}, same_shape, label, keeps_width=True))
