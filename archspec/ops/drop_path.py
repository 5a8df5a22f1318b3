"""drop_path: stochastic depth (Huang et al., "Deep Networks with Stochastic Depth", arXiv
1603.09382), as EfficientNet and ConvNeXt use it on a residual branch: in training each image's
whole tensor is zeroed with probability `rate` and otherwise divided by 1 - rate; in evaluation it
is the identity."""

from __future__ import annotations

from archspec.ir import Node
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import OpKind, register, same_shape


def label(node: Node) -> str:
    return f"Drop path ({round(node.attrs['rate'], 6):g})"


register(
    OpKind(
        "drop_path",
        "Stochastic depth: per image, zero with probability `rate` in training; identity in evaluation.",
        {"rate": REQUIRED},
        same_shape,
        label,
        groups=frozenset({"mode_dependent"}),
        keeps_width=True,
    )
)
