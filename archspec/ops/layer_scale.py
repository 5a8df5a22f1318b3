"""layer_scale: each channel times a learned scale, initialised to `init` (Touvron et al., "Going
deeper with Image Transformers", arXiv 2103.17239; ConvNeXt scales each block's branch by it,
starting at 1e-6, so that a deep network begins near the identity)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.ir import Node
from archspec.ops.base import OpKind, Shape, register, same_shape
from archspec.ops.base import number as label_number


def cost(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    """One scale per channel; an element-wise product counts no multiply-accumulates, as a gate's."""
    return out[-1], 0


def weights(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    return {"gamma": (in_width,)}


register(
    OpKind(
        "layer_scale",
        "Each channel times a learned scale (gamma), initialised to `init`.",
        {"init": 1e-6},
        same_shape,
        lambda node: f"Layer scale (init {label_number(node.attrs['init'])})",
        groups=frozenset({"weighted"}),
        cost=cost,
        weights=weights,
        keeps_width=True,
    )
)
