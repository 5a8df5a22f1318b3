"""add: the residual connection, activation(shortcut + scale * residual)."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.base import ACTIVATION_NAMES, REGISTRY, Lookup, OpKind, Shape, ShapeError, fmt, number, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    shortcut, residual = shapes
    if shortcut == residual:
        return shortcut
    short_node, res_node = lookup(n.inputs[0]), lookup(n.inputs[1])
    blame = n.pos
    width = REGISTRY[res_node.op].width  # a residual's width is set by its last projection
    if width is not None and residual[-1] != shortcut[-1]:
        blame = res_node.where(width)
    raise ShapeError(
        f"shortcut '{short_node.name}' is {fmt(shortcut)} (from {short_node.pos}) but residual "
        f"'{res_node.name}' is {fmt(residual)} (from {res_node.pos}); the add is at {n.pos}",
        pos=blame,
        hint=f"the residual must project back to {shortcut[-1]} channels" if residual[-1] != shortcut[-1] else None,
        recovered=shortcut,
    )


def label(node: Node) -> str:
    """ "+ (x 0.20), ReLU"."""
    a = node.attrs
    scaled = "+" if a["scale"] == 1.0 else f"+ (x {number(a['scale'])})"
    return scaled if a["activation"] == "none" else f"{scaled}, {ACTIVATION_NAMES[a['activation']]}"


register(
    OpKind(
        "add",
        "Residual add: activation(shortcut + scale * residual); residual defaults to the previous step.",
        {"scale": 1.0, "activation": "none"},
        shape,
        label,
        operands="shortcut",
        groups=frozenset({"joining"}),
        fill="#e2f5e1",
        keeps_width=True,
    ),
)
