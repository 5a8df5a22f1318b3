"""center_crop: the middle of a map, cropped to a `size` or to the size of the node named by
`like` (the original U-Net crops each encoder map to its decoder map's size before joining them).
An axis of n cells cropped to m keeps cells floor((n - m) / 2) to that plus m."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.base import Lookup, OpKind, Shape, ShapeError, feature_map, fmt, like_size, pair, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    h, w, c = feature_map(n, shapes[0])
    size = n.attrs["size"]
    if (size is None) == (len(shapes) == 1):
        raise ShapeError(
            "a center_crop takes one of size or like" + ("" if size is None else ", not both"),
            pos=n.where("size") if size is not None else None,
            recovered=shapes[0],
        )
    if len(shapes) > 1:
        size = like_size(n, shapes, lookup)
    if size[0] > h or size[1] > w:
        raise ShapeError(
            f"cannot crop the {fmt(shapes[0])} input to {size[0]}x{size[1]}, which is larger",
            pos=n.where("size"),
            recovered=(min(size[0], h), min(size[1], w), c),
        )
    return (size[0], size[1], c)


def label(node: Node) -> str:
    size = node.attrs["size"]
    return f"Center crop ({pair(size) if size is not None else 'like'})"


register(
    OpKind(
        "center_crop",
        "The middle of a map, cropped to a size or to the size of node `like`.",
        {"size": None},
        shape,
        label,
        operands="like",
        keeps_width=True,
    )
)
