"""A network's stages, as timm's `feature_info` describes them: the top-level steps after which the
feature map shrinks, and the last step that is still a feature map.

Each stage is the step's name, its output node, its channels and its reduction: the input's
height over the stage's, rounded to a power of two as strides compound (299 -> 35 is 8, though
valid padding makes it 8.5). These are the natural `features` of a feature extractor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archspec.spec import Spec


@dataclass(frozen=True)
class Stage:
    name: str  # the top-level step (`mixed_5e`)
    node: str  # its output node (`mixed_5e/concat_0`)
    channels: int
    reduction: int


def stages(spec: Spec) -> list[Stage]:
    """The stages in order: each top-level step whose output is a feature map and the next such
    step's is smaller, and the last feature-map step."""
    maps = [step for step in spec.steps if len(spec.shapes[step.output]) == 3]
    height = spec.input_shape[0]
    found = []
    for step, after in zip(maps, [*maps[1:], None], strict=True):
        here = spec.shapes[step.output]
        if after is None or spec.shapes[after.output][0] < here[0]:
            reduction = 2 ** max(0, round(math.log2(height / here[0])))
            found.append(Stage(step.name, step.output, here[2], reduction))
    return found
