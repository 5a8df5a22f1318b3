"""channel_shuffle: the channels in `groups` groups, interleaved (ShuffleNet's shuffle), so that
the next grouped conv sees channels from every group."""

from __future__ import annotations

from archspec.ops.attrs import REQUIRED
from archspec.ops.base import OpKind, grouped_shape, register

register(
    OpKind(
        "channel_shuffle",
        "The channels in groups, interleaved: channel j of group i goes to j * groups + i.",
        {"groups": REQUIRED},
        grouped_shape,
        lambda node: f"Channel shuffle ({node.attrs['groups']} groups)",
        keeps_width=True,
    )
)
