"""dense: a fully connected layer, then an activation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import ACTIVATION_NAMES, Lookup, OpKind, Shape, ShapeError, fmt, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    if len(shapes[0]) != 1:
        raise ShapeError(
            f"needs a vector input, got {fmt(shapes[0])}", hint="add 'global_avgpool' or 'flatten' before it"
        )
    return (n.attrs["units"],)


def cost(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    units = n.attrs["units"]
    weights = inputs[0][0] * units
    return weights + (units if n.attrs["bias"] else 0), weights


def weights(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    """An (in, out) kernel and a bias."""
    roles: dict[str, tuple[int, ...]] = {"kernel": (in_width, attrs["units"])}
    if attrs["bias"]:
        roles["bias"] = (attrs["units"],)
    return roles


def label(node: Node) -> str:
    activation = node.attrs["activation"]
    return f"FC ({node.attrs['units']}" + ("" if activation == "none" else f" {ACTIVATION_NAMES[activation]}") + ")"


register(
    OpKind(
        "dense",
        "Fully connected layer.",
        {"units": REQUIRED, "bias": True, "activation": "none"},
        shape,
        label,
        groups=frozenset({"weighted", "classifying"}),
        cost=cost,
        weights=weights,
        width="units",
        layouts={"kernel": "dense"},
    ),
)
