"""group_norm: the channels in `groups` groups, each group normalised over its channels and every
position of one image, then scaled and shifted per channel (Wu and He, "Group Normalization",
arXiv 1803.08494). One group is a layer norm over the whole map; C groups, instance norm."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import Lookup, OpKind, Shape, ShapeError, affine_cost, affine_roles, feature_map, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    channels, groups = feature_map(n, shapes[0])[2], n.attrs["groups"]
    if channels % groups:
        raise ShapeError(f"{groups} groups must divide the {channels} input channels", pos=n.where("groups"))
    return shapes[0]


register(
    OpKind(
        "group_norm",
        "Group norm: the channels in groups, each normalised over its channels and positions.",
        {"groups": REQUIRED, "eps": 1e-5},
        shape,
        lambda node: f"GroupNorm ({node.attrs['groups']} groups)",
        groups=frozenset({"weighted"}),
        cost=affine_cost,
        weights=affine_roles,
        keeps_width=True,
    )
)
