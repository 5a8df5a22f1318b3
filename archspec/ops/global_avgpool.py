"""global_avgpool: the mean over H and W, a vector of channels (1x1xC with `keepdims`)."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.base import Lookup, OpKind, Shape, feature_map, fixed, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    channels = feature_map(n, shapes[0])[2]
    return (1, 1, channels) if n.attrs["keepdims"] else (channels,)


register(
    OpKind(
        "global_avgpool",
        "Global average pooling to a vector of channels, or to 1x1xC with keepdims.",
        {"keepdims": False},
        shape,
        fixed("Global Avg Pooling"),
        keeps_width=True,
    )
)
