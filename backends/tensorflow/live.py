"""The live Keras model: the source that `archspec compile` writes, run.

`lower` generates the spec's source (`archspec.backends.tensorflow.codegen`), executes it as a module of
its own (`archspec.codegen.source`) and calls its `build()`, so the live model is the written file's.

Layer names follow the IR names with "/" written as "." (Keras forbids "/"): node
`mixed_6b/branch_1/conv_2` is the layer `mixed_6b.branch_1.conv_2`, its batch norm
`mixed_6b.branch_1.conv_2-bn` (see `archspec.backends.tensorflow.layers`). Which Keras variable holds
which neutral weight is recorded by `weight_paths`, derived from the spec, never by parsing
layer names. Everything is channels_last, Keras's native layout and the IR's.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import keras
from archspec.backends.tensorflow.codegen import generate

from archspec.analysis.stages import stages
from archspec.codegen import source as generated_source
from archspec.spec import Spec, load

if TYPE_CHECKING:
    from collections.abc import Sequence

# The spec each live model was built from. A side table rather than an attribute: Keras tracks
# attributes set on a model, and a loaded or generated model has no such attribute anyway
# (get_weights and set_weights take `spec=` for those).
_SPECS: weakref.WeakKeyDictionary[keras.Model, Spec] = weakref.WeakKeyDictionary()


def build(spec: Spec | str | Path, features: Sequence[str] | None = None, include_top: bool = True) -> keras.Model:
    """A freshly initialised keras.Model that computes the spec's network; `spec` is a loaded
    Spec, or what `archspec.load` takes (a bundled name, a path, YAML text). Call it inside a
    `tf.distribute` strategy's scope to place its variables there. With `features` (node names),
    the model returns those nodes' tensors, in that order, and holds only what they need;
    `include_top=False` is Keras Applications': the last feature map, before the head."""
    if not isinstance(spec, Spec):
        spec = load(spec)
    if not include_top and not features:
        features = [stages(spec)[-1].node]
    if features:  # a Keras model of one output returns a tensor, of several a list
        spec = spec.with_outputs(features)
    model = lower(spec)
    _SPECS[model] = spec
    return model


def spec_of(model: keras.Model, spec: Spec | None = None) -> Spec:
    """The spec a model was built from: the one given, else the one `build` recorded."""
    found = spec if spec is not None else _SPECS.get(model)
    if found is None:
        raise ValueError(
            f"model '{model.name}' was not built by archspec.backends.tensorflow.build;"
            " pass the spec it follows as spec="
        )
    return found


def lower(spec: Spec) -> keras.Model:
    """A freshly initialised Keras model that computes the spec's network: the generated file's."""
    module = generated_source.load(generate(spec), f"keras_{spec.name}")
    model: keras.Model = module.build()
    return model
