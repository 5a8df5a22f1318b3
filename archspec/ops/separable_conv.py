"""separable_conv: Keras's SeparableConv2D, a depthwise kxk conv (`depth_multiplier` filters per
input channel) and then a pointwise 1x1 conv to `filters`, with one bias, batch norm and the
activation after the pointwise conv."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import ACTIVATION_NAMES, Lookup, OpKind, Shape, pair, register, stride_and_padding, window


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    return (*window(n, shapes[0]), n.attrs["filters"])


def cost(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    kh, kw = n.attrs["kernel"]
    depthwise = inputs[0][2] * n.attrs["depth_multiplier"]
    filters, bn = n.attrs["filters"], n.attrs["bn"]
    params = kh * kw * depthwise + depthwise * filters + (filters if n.attrs["bias"] else 0)
    if bn is not None:
        params += filters * (int(bn.scale) + int(bn.center))
    return params, (kh * kw * depthwise + depthwise * filters) * out[0] * out[1]


def weights(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    """Keras's layouts: a (kh, kw, in, multiplier) depthwise kernel and a (1, 1, in x multiplier,
    out) pointwise one, then the bias and batch norm's tensors."""
    out, multiplier = attrs["filters"], attrs["depth_multiplier"]
    roles: dict[str, tuple[int, ...]] = {
        "depthwise_kernel": (*attrs["kernel"], in_width, multiplier),
        "pointwise_kernel": (1, 1, in_width * multiplier, out),
    }
    if attrs["bias"]:
        roles["bias"] = (out,)
    bn = attrs["bn"]
    if bn is not None:
        if bn.scale:
            roles["gamma"] = (out,)
        if bn.center:
            roles["beta"] = (out,)
        roles["moving_mean"] = roles["moving_variance"] = (out,)
    return roles


def label(node: Node) -> str:
    """ "3x3 SepConv (728)", as the Xception paper's figure writes "SeparableConv 3x3, 728"."""
    a = node.attrs
    activation = a["activation"]
    extra = [] if activation == "relu" else ["Linear" if activation == "none" else ACTIVATION_NAMES[activation]]
    return f"{pair(a['kernel'])} SepConv ({' '.join([str(a['filters']), *stride_and_padding(node), *extra])})"


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
        fill="#fff6d5",
    )
)
