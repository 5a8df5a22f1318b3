"""dropout: zeroes a fraction `rate` of the values in training, and is the identity in evaluation."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import OpKind, register, same_shape


def label(node: Node) -> str:
    """The rate the spec says, then the keep probability the paper's figures give:
    "Dropout (rate 0.2, keep 0.8)"."""
    rate = node.attrs["rate"]
    return f"Dropout (rate {rate:g}, keep {round(1.0 - rate, 6):g})"


register(
    OpKind(
        "dropout",
        "Dropout with the given drop rate.",
        {"rate": REQUIRED},
        same_shape,
        label,
        groups=frozenset({"mode_dependent"}),
        keeps_width=True,
    )
)
