"""A width multiplier for a whole network, as MobileNet's alpha and EfficientNet's width
coefficient: `width: {multiplier: 0.5, divisor: 8}` in a spec, or `--set width.multiplier=0.5`.

Every conv's filters and every dense layer's units are multiplied, except the units of a dense
layer that is an output of the network: those are the classes. A scaled width is rounded to the
nearest multiple of `divisor` (8 by default, so that the widths suit vector units), never below
one divisor and never more than 10 % below the exact product. A multiplier of exactly 1 changes
nothing.

A residual block's up-projection is written as its input's width, which after scaling is the sum
of rounded branch widths (Inception-ResNet's concat of 3 branches and a pass-through), and that
sum need not be the rounded total: `fit_residuals` gives a scaled projection that fed an add of
the same width before scaling the width of the add's scaled shortcut, as it was written to.
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


def fit_residuals(scaled_expansion: Expansion, written: Expansion) -> Expansion:
    """`scaled_expansion` with each up-projection sized to its shortcut: a node with a width
    attribute that is the residual operand of an add, read by nothing else, whose output had the
    shortcut's width in the `written` network but not after scaling. Anything that did not fit as
    written is left as it is, for shape inference to report."""
    from archspec.analysis.shapes import infer
    from archspec.errors import Collector
    from archspec.ir import graph as ir_graph

    before = infer(ir_graph.build(written), Collector())
    after = infer(ir_graph.build(scaled_expansion), Collector())  # an add that does not fit takes its shortcut's shape
    readers: dict[str, int] = {}
    for node in scaled_expansion.nodes:
        for source in node.inputs:
            readers[source] = readers.get(source, 0) + 1
    widths: dict[str, int] = {}
    for node in scaled_expansion.nodes:
        if node.op != "add" or len(node.inputs) != 2:
            continue
        shortcut, residual = node.inputs
        if not all(name in before and name in after for name in (shortcut, residual)):
            continue
        if before[shortcut][-1] == before[residual][-1] and after[shortcut][-1] != after[residual][-1]:
            widths[residual] = after[shortcut][-1]
    nodes = []
    for node in scaled_expansion.nodes:
        attr = ops.width_attr(node.op)
        if node.name in widths and attr and readers.get(node.name) == 1:
            node = replace(node, attrs=MappingProxyType({**node.attrs, attr: widths[node.name]}))
        nodes.append(node)
    return replace(scaled_expansion, nodes=tuple(nodes))
