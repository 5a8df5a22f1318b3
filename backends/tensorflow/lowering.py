"""The live Keras model: the source that `archspec compile` writes, run.

`lower` generates the spec's source (`archspec.backends.tensorflow.codegen`), executes it as a module of
its own (`archspec.backends.source`) and calls its `build()`, so the live model is the written file's.

Layer names follow the IR names with "/" written as "." (Keras forbids "/"): node
`mixed_6b/branch_1/conv_2` is the layer `mixed_6b.branch_1.conv_2`, its batch norm
`mixed_6b.branch_1.conv_2-bn` (see `archspec.backends.tensorflow.layers`). Which Keras variable holds
which neutral weight is recorded by `weight_paths`, derived from the spec, never by parsing
layer names. Everything is channels_last, Keras's native layout and the IR's.
"""

from __future__ import annotations

import keras

from archspec.backends import source as generated_source
from archspec.backends import weights as neutral
from archspec.backends.tensorflow import layers
from archspec.backends.tensorflow.codegen import generate, layer_name
from archspec.spec import Spec

__all__ = ["BN_ROLES", "layer_name", "lower", "weight_paths"]

BN_ROLES = ("gamma", "beta", "moving_mean", "moving_variance")


def weight_paths(spec: Spec) -> dict[str, str]:
    """Neutral key -> the Keras variable path (`layer/variable`) that holds it, for every weight of
    the spec. Keras names its variables by our roles: Conv2D and Dense `kernel` and `bias`, and
    BatchNormalization `gamma`, `beta`, `moving_mean`, `moving_variance`."""
    paths = {}
    for key in neutral.expected_shapes(spec):
        node, role = key.rsplit("/", 1)
        layer = layer_name(node) + (layers.BN_SUFFIX if role in BN_ROLES else "")
        paths[key] = f"{layer}/{role}"
    return paths


def lower(spec: Spec) -> keras.Model:
    """A freshly initialised Keras model that computes the spec's network: the generated file's."""
    module = generated_source.load(generate(spec), f"keras_{spec.name}")
    model: keras.Model = module.build()
    return model
