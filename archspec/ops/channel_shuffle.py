"""channel_shuffle: the channels in `groups` groups, interleaved (ShuffleNet's shuffle), so that
the next grouped conv sees channels from every group."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import Lookup, OpKind, Shape, ShapeError, feature_map, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    channels, groups = feature_map(n, shapes[0])[2], n.attrs["groups"]
    if channels % groups:
        raise ShapeError(f"{groups} groups must divide the {channels} input channels", pos=n.where("groups"))
    return shapes[0]


register(
    OpKind(
        "channel_shuffle",
        "The channels in groups, interleaved: channel j of group i goes to j * groups + i.",
        {"groups": REQUIRED},
        shape,
        lambda node: f"Channel shuffle ({node.attrs['groups']} groups)",
        keeps_width=True,
    )
)
