"""A width multiplier for a whole network, as MobileNet's alpha and EfficientNet's width
coefficient: `width: {multiplier: 0.5, divisor: 8}` in a spec, or `--set width.multiplier=0.5`.

Every conv's filters and every dense layer's units are multiplied, except the units of a dense
layer that is an output of the network: those are the classes. A scaled width is rounded to the
nearest multiple of `divisor` (8 by default, so that the widths suit vector units), never below
one divisor and never more than 10 % below the exact product. Because every width is scaled by
the same rule, a residual block whose up-projection is written as its input's width keeps
fitting, as long as the rounded branch widths still add up; where they do not, shape inference
reports the add that no longer fits. A multiplier of exactly 1 changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from archspec import ops
from archspec.frontend.expand import Expansion

DEFAULT_DIVISOR = 8


def rounded(width: float, divisor: int) -> int:
    """`width` to the nearest multiple of `divisor`, at least `divisor`, and at least 90 % of `width`."""
    found = max(divisor, int(width / divisor + 0.5) * divisor)
    return found + divisor if found < 0.9 * width else found


def scaled(expansion: Expansion, setting: Mapping[str, Any] | None) -> Expansion:
    """The expansion with the spec's `width` setting applied (the schema has checked it)."""
    if not setting or setting["multiplier"] == 1:
        return expansion
    multiplier, divisor = float(setting["multiplier"]), int(setting.get("divisor", DEFAULT_DIVISOR))
    op_of = {node.name: node.op for node in expansion.nodes}
    keep = set(ops.classifiers(expansion.outputs, op_of.__getitem__))  # their units are the classes
    nodes = []
    for node in expansion.nodes:
        attr = ops.width_attr(node.op)
        value = node.attrs.get(attr) if attr else None
        if attr and isinstance(value, int) and not isinstance(value, bool) and node.name not in keep:
            node = replace(node, attrs=MappingProxyType({**node.attrs, attr: rounded(value * multiplier, divisor)}))
        nodes.append(node)
    return replace(expansion, nodes=tuple(nodes))
