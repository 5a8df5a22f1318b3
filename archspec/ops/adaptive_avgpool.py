"""adaptive_avgpool: average pooling to a fixed output `size`, whatever the input's (PyTorch's
AdaptiveAvgPool2d: VGG's and AlexNet's heads pool to 7x7 and 6x6, so that their dense layers fit
any input size). Output cell i of an axis of n cells pooled to m averages input cells
floor(i * n / m) up to ceil((i + 1) * n / m), the last excluded: windows that may overlap and
differ in size by one."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import Lookup, OpKind, Shape, feature_map, pair, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    channels = feature_map(n, shapes[0])[2]
    height, width = n.attrs["size"]
    return (height, width, channels)


register(
    OpKind(
        "adaptive_avgpool",
        "Average pooling to a fixed output size (PyTorch's AdaptiveAvgPool2d).",
        {"size": REQUIRED},
        shape,
        lambda node: f"Adaptive Avg Pooling ({pair(node.attrs['size'])})",
        keeps_width=True,
    )
)
