"""group_norm: the channels in `groups` groups, each group normalised over its channels and every
position of one image, then scaled and shifted per channel (Wu and He, "Group Normalization",
arXiv 1803.08494). One group is a layer norm over the whole map; C groups, instance norm."""

from __future__ import annotations

from archspec.ops.attrs import REQUIRED
from archspec.ops.base import OpKind, affine_cost, affine_roles, grouped_shape, register

register(
    OpKind(
        "group_norm",
        "Group norm: the channels in groups, each normalised over its channels and positions.",
        {"groups": REQUIRED, "eps": 1e-5},
        grouped_shape,
        lambda node: f"GroupNorm ({node.attrs['groups']} groups)",
        groups=frozenset({"weighted"}),
        cost=affine_cost,
        weights=affine_roles,
        keeps_width=True,
    )
)
