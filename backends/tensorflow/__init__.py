"""The TensorFlow backend: a Keras 3 functional model from a spec, framework-neutral weights,
Keras reference weights.

    model = archspec.backends.tensorflow.build(archspec.load("specs/inception_v4.yaml"))   # a keras.Model
    weights = archspec.backends.tensorflow.get_weights(model)        # {"stem/conv2d_1a/kernel": array, ...}
    archspec.backends.tensorflow.set_weights(model, archspec.backends.torch.get_weights(torch_model))

Keys and layouts are those of `archspec.backends.weights`, shared with the PyTorch backend; they are
Keras's own layouts, so nothing is transposed. Keras runs on TensorFlow here: the backend is
chosen before Keras is first imported, unless KERAS_BACKEND says otherwise.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np

from archspec.backends import weights as neutral
from archspec.backends.tensorflow.lowering import layer_name, lower, weight_paths
from archspec.spec import Spec, load
from archspec.stages import stages

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build", "get_weights", "layer_name", "load_reference_weights", "set_weights", "spec_of", "weight_paths"]

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


def _variables(model: keras.Model, spec: Spec) -> dict[str, Any]:
    """Neutral key -> the model's Keras variable, for every weight the spec has."""
    by_path = {variable.path: variable for variable in model.weights}
    found = {}
    for key, path in weight_paths(spec).items():
        if path not in by_path:
            raise ValueError(f"model '{model.name}' has no variable '{path}' for '{key}'; is it a '{spec.name}'?")
        found[key] = by_path[path]
    return found


def get_weights(model: keras.Model, spec: Spec | None = None) -> dict[str, np.ndarray]:
    """Every weight of the model as `{node/role: float32 array}` in the neutral layouts."""
    return {
        key: np.ascontiguousarray(variable.numpy(), dtype=np.float32)
        for key, variable in _variables(model, spec_of(model, spec)).items()
    }


def set_weights(model: keras.Model, weights: dict[str, Any], spec: Spec | None = None) -> None:
    """Load neutral weights; every array the spec needs must be there with the right shape."""
    spec = spec_of(model, spec)
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    neutral.check(spec, arrays)
    for key, variable in _variables(model, spec).items():
        variable.assign(arrays[key])


def load_reference_weights(model: keras.Model, keras_model: keras.Model, source: str = "keras") -> None:
    """Load the weights of a reference Keras model (keras.applications InceptionV3 or
    InceptionResNetV2) into the model built from the matching bundled spec."""
    from archspec.backends.tensorflow.reference import load_keras

    if source != "keras":
        raise ValueError(f"unknown reference source '{source}'; the tensorflow backend knows 'keras'")
    spec = spec_of(model)
    set_weights(model, load_keras(spec, keras_model), spec)
