"""Map a keras.applications model's weights onto the model of the matching bundled spec.

Keras Applications builds InceptionV3, InceptionResNetV2 and Xception from the blocks of the
bundled specs (`inception_v3_tf.yaml`, `inception_resnet_v2.yaml`, `xception.yaml`), with the
branches in the same concat order and the operands of each add in the same order,
but names its layers by a counter (`conv2d_57`). So layers are paired by their place in the
graph: both graphs are walked the same way, depth first from the output, every op's inputs in
order, and the i-th conv or dense layer of one is the i-th of the other. Every pair is checked for
shape, and the first tensor that does not fit is named.

Keras's batch norms there have no gamma (`scale=False`): where the spec has one, it gets 1.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import keras
import numpy as np
from archspec.backends.tensorflow.layers import BN_ROLES
from archspec.backends.tensorflow.live import spec_of
from archspec.backends.tensorflow.weights import set_weights

from archspec.ops import OpGroup
from archspec.spec import Spec
from archspec.weights import neutral

T = TypeVar("T")

# What a missing batch-norm parameter stands for: Keras's `scale=False` is gamma = 1.
NEUTRAL_VALUE = {"gamma": 1.0, "beta": 0.0}
CONV_ROLES = ("kernel", "depthwise_kernel", "pointwise_kernel", "bias")


def post_order(roots: Sequence[T], inputs_of: Callable[[T], Sequence[T]], key: Callable[[T], Hashable]) -> list[T]:
    """Every item reachable from the roots, each after its inputs: a depth-first walk that takes
    inputs in order. Iterative, so that no depth of graph meets Python's recursion limit."""
    order: list[T] = []
    done: set[Hashable] = set()
    stack: list[tuple[T, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        item, expanded = stack.pop()
        if key(item) in done:
            continue
        if expanded:
            done.add(key(item))
            order.append(item)
            continue
        stack.append((item, True))
        stack.extend((source, False) for source in reversed(inputs_of(item)) if key(source) not in done)
    return order


class KerasGraph:
    """A functional Keras model as layers and the layers that feed them, from public attributes."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.producer = {id(t): layer for layer in model.layers for t in keras.tree.flatten(layer.output)}

    def inputs_of(self, layer: Any) -> list[Any]:
        if isinstance(layer, keras.layers.InputLayer):
            return []
        return [self.producer[id(t)] for t in keras.tree.flatten(layer.input)]

    def ordered(self) -> list[Any]:
        roots = [self.producer[id(t)] for t in keras.tree.flatten(self.model.outputs)]
        return post_order(roots, self.inputs_of, id)

    def batch_norm_after(self) -> dict[int, Any]:
        """id(conv layer) -> the BatchNormalization layer that reads its output."""
        return {
            id(self.inputs_of(layer)[0]): layer
            for layer in self.model.layers
            if isinstance(layer, keras.layers.BatchNormalization)
        }


def _weights_of(layer: Any, bn: Any | None) -> dict[str, Any]:
    """A Keras conv or dense layer's variables (and its batch norm's) under their neutral roles."""
    found = {role: getattr(layer, role, None) for role in CONV_ROLES}
    if bn is not None:
        found.update({role: getattr(bn, role, None) for role in BN_ROLES})
    return {role: variable for role, variable in found.items() if variable is not None}


def _parameter_nodes(spec: Spec) -> list[str]:
    ordered = post_order(list(spec.outputs), lambda name: spec.node(name).inputs, lambda name: name)
    return [name for name in ordered if spec.node(name).op in OpGroup.WEIGHTED]


def _roles_by_node(spec: Spec) -> dict[str, dict[str, tuple[int, ...]]]:
    table: dict[str, dict[str, tuple[int, ...]]] = {}
    for key, shape in neutral.expected_shapes(spec).items():
        node, role = key.rsplit("/", 1)
        table.setdefault(node, {})[role] = shape
    return table


def _pair(node: str, wanted: dict[str, tuple[int, ...]], layer: Any, theirs: dict[str, Any]) -> dict[str, np.ndarray]:
    """Neutral weights of one node from one Keras layer; ValueError naming what does not fit."""
    extra = sorted(set(theirs) - set(wanted))
    if extra:
        raise ValueError(f"keras variable '{theirs[extra[0]].path}' has no place in node '{node}'")
    found = {}
    for role, shape in wanted.items():
        if role not in theirs:
            if role not in NEUTRAL_VALUE:
                raise ValueError(f"node '{node}' needs '{role}' {shape}, which keras layer '{layer.name}' lacks")
            found[neutral.key(node, role)] = np.full(shape, NEUTRAL_VALUE[role], np.float32)
            continue
        array = theirs[role].numpy()
        if tuple(array.shape) != shape:
            raise ValueError(
                f"keras variable '{theirs[role].path}' has shape {tuple(array.shape)} but node '{node}' needs {shape}"
            )
        found[neutral.key(node, role)] = np.asarray(array, np.float32)
    return found


def load_keras(spec: Spec, keras_model: keras.Model) -> dict[str, np.ndarray]:
    """The neutral weights of `spec` taken from a keras.applications model of the same network."""
    graph = KerasGraph(keras_model)
    weighted = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.Dense)
    theirs = [layer for layer in graph.ordered() if isinstance(layer, weighted)]
    ours = _parameter_nodes(spec)
    if len(theirs) != len(ours):
        raise ValueError(
            f"the keras model '{keras_model.name}' has {len(theirs)} conv/dense layers but '{spec.name}' has "
            f"{len(ours)}; is it the matching model?"
        )
    bn_after = graph.batch_norm_after()
    wanted = _roles_by_node(spec)
    weights: dict[str, np.ndarray] = {}
    for node, layer in zip(ours, theirs, strict=True):
        weights.update(_pair(node, wanted[node], layer, _weights_of(layer, bn_after.get(id(layer)))))
    return weights


def load_reference_weights(model: keras.Model, keras_model: keras.Model, source: str = "keras") -> None:
    """Load the weights of a reference Keras model (keras.applications InceptionV3 or
    InceptionResNetV2) into the model built from the matching bundled spec."""
    if source != "keras":
        raise ValueError(f"unknown reference source '{source}'; the tensorflow backend knows 'keras'")
    spec = spec_of(model)
    set_weights(model, load_keras(spec, keras_model), spec)
