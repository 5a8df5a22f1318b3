"""dropout: zeroes a fraction `rate` of the values in training, and is the identity in evaluation."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import OpKind, register, same_shape


def label(node: Node) -> str:
    """The paper gives the keep probability: "Dropout (keep 0.8)"."""
    return f"Dropout (keep {round(1.0 - node.attrs['rate'], 6):g})"


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
