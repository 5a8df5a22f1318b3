"""layer_norm: each position's channels normalised to zero mean and unit variance, then scaled and
shifted per channel: ConvNeXt's norm (its channels-last LayerNorm and its LayerNorm2d are this).
On a vector of C it normalises the vector, as a transformer's or a classifier head's does."""

from __future__ import annotations

from archspec.ops.base import OpKind, affine_cost, affine_roles, register, same_shape
from archspec.ops.base import number as label_number

register(
    OpKind(
        "layer_norm",
        "Layer norm over the channels at each position (or over a vector), with gamma and beta.",
        {"eps": 1e-5},
        same_shape,
        lambda node: f"LayerNorm (eps {label_number(node.attrs['eps'])})",
        groups=frozenset({"weighted"}),
        cost=affine_cost,
        weights=affine_roles,
        keeps_width=True,
    )
)
