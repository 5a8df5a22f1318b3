"""Framework-neutral weights of a live Keras model: which Keras variable holds each neutral key.

Keys and layouts are those of `archspec.weights.neutral`, shared with the PyTorch backend; they are
Keras's own layouts, so nothing is transposed.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from archspec.backends.tensorflow.codegen import helper, layer_name
from archspec.backends.tensorflow.live import spec_of

from archspec.codegen import helpers
from archspec.spec import Spec
from archspec.weights import neutral


def weight_paths(spec: Spec) -> dict[str, str]:
    """Neutral key -> the Keras variable path (`layer/variable`) that holds it, for every weight of
    the spec, where the node's helper says it keeps that role (`-bn/gamma`: in its batch norm)."""
    paths = {}
    for key in neutral.expected_shapes(spec):
        node, role = key.rsplit("/", 1)
        paths[key] = layer_name(node) + helpers.mark_of(helper(spec.node(node).op)).weights[role]
    return paths


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
