"""channel_slice: the channels from `start` up to `stop` (not included) of a map or a vector: one
part of a split (ShuffleNetV2 splits its input in two halves and transforms one, `x.chunk(2, 1)`)."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import Lookup, OpKind, Shape, ShapeError, register


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    start, stop, channels = n.attrs["start"], n.attrs["stop"], shapes[0][-1]
    if not start < stop <= channels:
        raise ShapeError(
            f"channels {start} to {stop} are not a slice of the {channels} input channels: "
            f"it needs start < stop <= {channels}",
            pos=n.where("stop" if stop > channels else "start"),
            recovered=(*shapes[0][:-1], max(min(stop, channels) - start, 1)),
        )
    return (*shapes[0][:-1], stop - start)


register(
    OpKind(
        "channel_slice",
        "The channels from start up to stop (not included): one part of a split.",
        {"start": 0, "stop": REQUIRED},
        shape,
        lambda node: f"Channels {node.attrs['start']}:{node.attrs['stop']}",
    )
)
