"""batch_norm: batch normalisation on its own, then an activation: the pre-activation of ResNet-v2
and DenseNet (batch norm, ReLU, then the conv), where no conv comes before it to hold it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.ir import Node
from archspec.ops.base import (
    ACTIVATION_NAMES,
    Lookup,
    OpKind,
    Shape,
    ShapeError,
    batch_norm_params,
    feature_map,
    output_roles,
    register,
)


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    feature_map(n, shapes[0])
    if n.attrs["bn"] is None:
        raise ShapeError(
            "a batch_norm step's 'bn' is true or its settings {eps, momentum, scale, center}, not false",
            pos=n.where("bn"),
        )
    return shapes[0]


def cost(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    """gamma and beta are trained; like a conv's batch norm, it counts no multiply-accumulates."""
    return batch_norm_params({"bias": False, "bn": n.attrs["bn"]}, out[-1]), 0


def weights(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    return output_roles({"bias": False, "bn": attrs["bn"]}, in_width)


def label(node: Node) -> str:
    activation = node.attrs["activation"]
    return "BatchNorm" + ("" if activation == "none" else f", {ACTIVATION_NAMES[activation]}")


register(
    OpKind(
        "batch_norm",
        "Batch norm on its own (not after a conv), then an activation.",
        {"bn": True, "activation": "none"},
        shape,
        label,
        groups=frozenset({"weighted"}),
        cost=cost,
        weights=weights,
        keeps_width=True,
    )
)
