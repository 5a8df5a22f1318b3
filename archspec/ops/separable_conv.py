"""separable_conv: Keras's SeparableConv2D, a depthwise kxk conv (`depth_multiplier` filters per
input channel) and then a pointwise 1x1 conv to `filters`, with one bias, batch norm and the
activation after the pointwise conv."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import Lookup, OpKind, Shape, batch_norm_params, conv_label, output_roles, register, window


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    return (*window(n, shapes[0]), n.attrs["filters"])


def cost(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    kh, kw = n.attrs["kernel"]
    depthwise = inputs[0][2] * n.attrs["depth_multiplier"]
    filters = n.attrs["filters"]
    weights = kh * kw * depthwise + depthwise * filters
    return weights + batch_norm_params(n.attrs, filters), weights * out[0] * out[1]


def weights(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    """Keras's layouts: a (kh, kw, in, multiplier) depthwise kernel and a (1, 1, in x multiplier,
    out) pointwise one, then the bias and batch norm's tensors."""
    out, multiplier = attrs["filters"], attrs["depth_multiplier"]
    return {
        "depthwise_kernel": (*attrs["kernel"], in_width, multiplier),
        "pointwise_kernel": (1, 1, in_width * multiplier, out),
        **output_roles(attrs, out),
    }


def label(node: Node) -> str:
    """ "3x3 SepConv (728)", the Xception paper's "SeparableConv 3x3, 728"."""
    return conv_label("SepConv", node, [])


register(
    OpKind(
        "separable_conv",
        "Depthwise kxk conv (depth_multiplier per channel), then a pointwise 1x1 conv to filters, "
        "then batch norm and an activation (Keras SeparableConv2D).",
        {
            "kernel": REQUIRED,
            "stride": 1,
            "padding": "same",
            "filters": REQUIRED,
            "depth_multiplier": 1,
            "bias": None,
            "bn": True,
            "activation": "relu",
        },
        shape,
        label,
        groups=frozenset({"weighted"}),
        cost=cost,
        weights=weights,
        width="filters",
        layouts={"depthwise_kernel": "depthwise", "pointwise_kernel": "conv"},
        fill="#fff6d5",
    )
)
