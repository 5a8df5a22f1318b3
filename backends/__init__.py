"""Lowerings from the archspec IR to deep-learning frameworks, one subpackage per framework,
chosen by name through one interface (`backend("torch")`, `backend("tf")`).

Importing `archspec.backends` imports no framework; using a backend imports its framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from archspec.errors import ArchspecError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from archspec.spec import Spec
    from archspec.training.data import ImageSet
    from archspec.training.recipe import Run
    from archspec.training.runs import Options, Outcome


class BackendError(ArchspecError, ValueError):
    """A spec the front end accepted but a backend cannot serve, or weights that do not fit it,
    with the spec position it concerns where there is one, so that the command line reports it
    at its line."""


@dataclass(frozen=True)
class Backend:
    """What the command line asks of a framework. Each call imports the framework's module
    it needs, so choosing a backend costs nothing until it is used."""

    name: str
    package: str  # lowering and code generation
    training: str  # training and evaluation

    def generate(self, spec: Spec) -> str:
        """The standalone source file of the spec's model."""
        source: str = import_module(f"{self.package}.codegen").generate(spec)
        return source

    def train(self, spec: Spec, run: Run, options: Options) -> Outcome:
        """`archspec train`: the paper's recipe, from scratch or resumed, into `options.out`."""
        outcome: Outcome = import_module(f"{self.training}.train").train(spec, run, options)
        return outcome

    def evaluate(
        self, spec: Spec, members: Sequence[dict[str, np.ndarray]], images: ImageSet, crops: int, workers: int
    ) -> dict[str, float]:
        """`archspec eval`: top-1 and top-5 error of neutral weights, or of an ensemble of them."""
        result: dict[str, float] = import_module(f"{self.training}.evaluate").evaluate_weights(
            spec, members, images, crops, workers
        )
        return result


BACKENDS = {
    "torch": Backend("torch", "archspec.backends.torch", "archspec.training.torch"),
    "tf": Backend("tf", "archspec.backends.tensorflow", "archspec.training.tensorflow"),
}


def backend(name: str) -> Backend:
    return BACKENDS[name]
