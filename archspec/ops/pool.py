"""maxpool and avgpool: a window over a feature map, no weights."""

from __future__ import annotations

from collections.abc import Callable

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import Lookup, OpKind, Shape, pair, register, stride_and_padding, window


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    return (*window(n, shapes[0], pool=True), shapes[0][2])


def labelled(kind: str) -> Callable[[Node], str]:
    """ "3x3 MaxPool (stride 2 V)", "3x3 Avg Pooling"."""

    def label(node: Node) -> str:
        detail = " ".join(stride_and_padding(node))
        return f"{pair(node.attrs['kernel'])} {kind}" + (f" ({detail})" if detail else "")

    return label


WINDOW = {"kernel": REQUIRED, "stride": 1, "padding": "same", "ceil_mode": False}
POOLING = frozenset({"pooling"})
FILL = "#dbeafe"

register(
    OpKind("maxpool", "Max pooling.", WINDOW, shape, labelled("MaxPool"), groups=POOLING, fill=FILL, keeps_width=True),
    OpKind(
        "avgpool",
        "Average pooling; with same padding, padded cells are excluded from the average (TensorFlow) "
        "unless include_padding is true.",
        {**WINDOW, "include_padding": False},
        shape,
        labelled("Avg Pooling"),
        groups=POOLING,
        fill=FILL,
        keeps_width=True,
    ),
)
