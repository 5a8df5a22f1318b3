"""activation: an activation function on its own; `slope` is leaky ReLU's below 0."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import ACTIVATION_NAMES, Lookup, OpKind, Shape, ShapeError, number, register

LEAKY_SLOPE = 0.01  # PyTorch's default, the slope of every leaky_relu that gives none


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    if n.attrs["slope"] != LEAKY_SLOPE and n.attrs["fn"] != "leaky_relu":
        raise ShapeError(f"'slope' is leaky_relu's, not {n.attrs['fn']}'s", pos=n.where("slope"))
    return shapes[0]


def label(node: Node) -> str:
    name = ACTIVATION_NAMES[node.attrs["fn"]]
    return f"{name} ({number(node.attrs['slope'])})" if node.attrs["slope"] != LEAKY_SLOPE else name


register(
    OpKind(
        "activation",
        "An activation function; `slope` is leaky_relu's below 0.",
        {"fn": REQUIRED, "slope": LEAKY_SLOPE},
        shape,
        label,
        keeps_width=True,
    )
)
