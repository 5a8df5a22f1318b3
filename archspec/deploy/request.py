"""What `archspec export` asks of a framework's writer, and what the writers share: the request,
the writer's type, the names of the file's outputs, and a model's outputs as arrays. Apart from
`archspec.deploy.export`, which chooses a writer, so that each framework's export module needs
this and not the module that imports it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from archspec.spec import Spec

DYNAMIC_BATCHES = (1, 8)


@dataclass(frozen=True)
class Request:
    spec: Spec
    format: str
    weights: dict[str, np.ndarray] | None  # neutral weights; None: a fresh random initialisation
    dynamic_batch: bool
    inference: bool  # torch formats: the batch-norm-folded model of `for_inference`

    @property
    def batches(self) -> tuple[int, ...]:
        return DYNAMIC_BATCHES if self.dynamic_batch else (1,)

    def inputs(self, channels_last: bool) -> list[np.ndarray]:
        """One random input per batch size checked, the same for every format."""
        height, width, channels = self.spec.input_shape
        rng = np.random.default_rng(0)
        shape = (height, width, channels) if channels_last else (channels, height, width)
        return [rng.standard_normal((batch, *shape), dtype=np.float32) for batch in self.batches]


def output_names(spec: Spec) -> list[str]:
    return [name.replace("/", ".") for name in spec.outputs]


# One writer per format: (request, partial path) -> the checked runs, as pairs of outputs from
# the live model and from the file loaded back, one pair per batch size.
Writer = Callable[[Request, Path], list[tuple[list[np.ndarray], list[np.ndarray]]]]


def outputs_list(value: Any) -> list[np.ndarray]:
    """A model's outputs as a list of arrays, whether it returned one tensor, a tuple or a dict."""
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)):
        value = [value]
    return [np.asarray(v) for v in value]
