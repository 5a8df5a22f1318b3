"""A network's stages, as timm's `feature_info` describes them: a feature map at every reduction of
the input's size, from the first stride to the last feature map before the head.

Each stage is a tap: a node, its name, its channels and its reduction. The reduction is the
product of the strides on the way to the node, rounded to a power of two (a size-changing op
without a stride counts as the ratio of sizes), so that it is the nominal one at any input size:
valid padding makes 299 -> 35 a ratio of 8.5, and 75 -> 3 one of 25, but both are 8 and 16.

A spec's `features:` lists its taps; without it, the tap at each reduction is the last feature map
there that every path from the input to the network's output passes through (a cut point: a block
output, not a node inside one of its branches), found inside blocks as well as between them. These
are the natural `features` of a feature extractor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archspec import ops

if TYPE_CHECKING:
    from archspec.spec import Spec


@dataclass(frozen=True)
class Stage:
    name: str  # the top-level step whose output it is (`mixed_5e`), else the node (`stem/conv2d_2b`)
    node: str  # the tap (`mixed_5e/concat_0`)
    channels: int
    reduction: int


def stages(spec: Spec) -> list[Stage]:
    """The stages in the network's order: the spec's `features:`, else a tap at every reduction.
    Of a spec whose chosen outputs leave part of the network out, those in the part kept."""
    strides = _strides(spec)
    steps = {step.output: step.name for step in spec.steps}

    def stage(node: str) -> Stage:
        reduction = 2 ** max(0, round(math.log2(strides[node])))
        return Stage(steps.get(node, node), node, spec.shapes[node][2], reduction)

    declared: tuple[str, ...] | None = spec.graph.graph["features"]
    if declared is not None:
        return [stage(node) for node in declared if node in spec.graph]
    cuts = [stage(n) for n in spec.graph.graph["cuts"] if n in spec.graph and n != "input" and len(spec.shapes[n]) == 3]
    # A step's output ends a stage where one is at that reduction: the cut points after it there
    # are the next step's work towards its stride (a pre-norm, an expansion before a depthwise
    # conv). Within a block only where none is: a stem that reduces twice.
    inner = {s.reduction: s for s in cuts}  # the later cut at a reduction wins
    ends = {s.reduction: s for s in cuts if s.node in steps}
    taps = {**inner, **ends}.values()
    return [s for s in cuts if s in taps]


def _strides(spec: Spec) -> dict[str, float]:
    """Each feature map's stride: its input's times the op's stride (divided by it where the map
    grows, as in a transposed conv). A map sized like another node is at that node's stride; one
    that changes size without a stride (a resize by a factor, an adaptive pool) scales its
    input's by the ratio of heights; one that joins maps of its size takes the first one's."""
    strides: dict[str, float] = {}
    for node in spec.nodes:
        shape = spec.shapes[node.name]
        if not node.inputs or len(shape) != 3:
            strides[node.name] = 1.0
            continue
        first = spec.shapes[node.inputs[0]]
        if ops.kind(node.op).operands == "like" and len(node.inputs) > 1:
            strides[node.name] = strides[node.inputs[1]]
        elif "stride" in node.attrs:
            step = node.attrs["stride"][0]
            strides[node.name] = strides[node.inputs[0]] * (step if shape[0] <= first[0] else 1 / step)
        elif same := [i for i in node.inputs if spec.shapes[i][:1] == shape[:1] and len(spec.shapes[i]) == 3]:
            strides[node.name] = strides[same[0]]
        else:
            strides[node.name] = strides[node.inputs[0]] * first[0] / shape[0]
    return strides
