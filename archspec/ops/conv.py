"""conv: a 2-D convolution, then optional batch norm, then an activation. `groups` splits the
input and output channels into that many independent convolutions (groups equal to the input
channels is a depthwise conv); `dilation` spaces the kernel's taps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import (
    Lookup,
    OpKind,
    Shape,
    ShapeError,
    batch_norm_params,
    conv_label,
    feature_map,
    output_roles,
    pair,
    register,
    window,
)


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    groups, filters = n.attrs["groups"], n.attrs["filters"]
    channels = feature_map(n, shapes[0])[2]
    if channels % groups or filters % groups:
        raise ShapeError(
            f"{groups} groups must divide both the {channels} input channels and the {filters} filters",
            pos=n.where("groups"),
        )
    if n.attrs["dilation"] != (1, 1) and n.attrs["stride"] != (1, 1):
        raise ShapeError(
            "a dilated conv takes stride 1 (Keras and TensorFlow have no strided dilated conv)",
            pos=n.where("dilation"),
            hint="follow it with a pool, or a stride-2 conv",
        )
    return (*window(n, shapes[0]), filters)


def cost(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    kh, kw = n.attrs["kernel"]
    fan_in = kh * kw * inputs[0][2] // n.attrs["groups"]
    filters = n.attrs["filters"]
    return fan_in * filters + batch_norm_params(n.attrs, filters), fan_in * filters * out[0] * out[1]


def weights(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    """A (kh, kw, in / groups, out) kernel, a bias, and batch norm's tensors where enabled."""
    out = attrs["filters"]
    return {"kernel": (*attrs["kernel"], in_width // attrs["groups"], out), **output_roles(attrs, out)}


def label(node: Node) -> str:
    a = node.attrs
    extra = []
    if a["dilation"] != (1, 1):
        extra.append(f"dilation {a['dilation'][0] if len(set(a['dilation'])) == 1 else pair(a['dilation'])}")
    if a["groups"] != 1:
        extra.append(f"groups {a['groups']}")
    return conv_label("Conv", node, extra)


register(
    OpKind(
        "conv",
        "Convolution, optionally followed by batch norm and an activation.",
        {
            "kernel": REQUIRED,
            "stride": 1,
            "padding": "same",
            "filters": REQUIRED,
            "groups": 1,
            "dilation": 1,
            "bias": None,  # None: a bias only when there is no batch norm to absorb it
            "bn": True,
            "activation": "relu",
        },
        shape,
        label,
        groups=frozenset({"weighted"}),
        cost=cost,
        weights=weights,
        width="filters",
        layouts={"kernel": "conv"},
        fill="#fff6d5",
    ),
)
