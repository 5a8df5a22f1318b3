"""Lower a checked spec to a Keras 3 functional model, one method per op kind.

Layer names follow the IR names with "/" written as "." (Keras forbids "/"): node
`mixed_6b/branch_1/conv_2` is the layer `mixed_6b.branch_1.conv_2`, its batch norm
`mixed_6b.branch_1.conv_2-bn` (see `backends.tensorflow.layers`). Which Keras variable holds
which neutral weight is recorded by `weight_paths`, derived from the spec, never by parsing
layer names. Everything is channels_last, Keras's native layout and the IR's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import layers as kl

from archspec.ir import Node
from archspec.spec import Spec
from backends import weights as neutral
from backends.tensorflow import layers

BN_ROLES = ("gamma", "beta", "moving_mean", "moving_variance")

Op = Callable[[Node, Sequence[keras.KerasTensor]], keras.KerasTensor]


def layer_name(node_name: str) -> str:
    """The Keras name of an IR node's main layer."""
    return node_name.replace("/", ".")


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
    """A freshly initialised Keras model that computes the spec's network."""
    lowering = Lowering(spec)
    values: dict[str, keras.KerasTensor] = {}
    for node in spec.nodes:
        values[node.name] = lowering.lower(node, [values[i] for i in node.inputs])
    outputs = [values[name] for name in spec.outputs]
    return keras.Model(values["input"], outputs[0] if len(outputs) == 1 else outputs, name=spec.name)


class Lowering:
    """One method per op kind; each adds the node's layers and returns its output tensor."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def lower(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        method: Op | None = getattr(self, f"op_{node.op}", None)
        if method is None:
            raise NotImplementedError(f"the tensorflow backend cannot lower op '{node.op}' (node '{node.name}')")
        return method(node, inputs)

    def op_input(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        return keras.Input(self.spec.shapes[node.name], name=layer_name(node.name))

    def op_conv(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        a = node.attrs
        return layers.conv_bn_act(
            inputs[0], a["filters"], a["kernel"], a["stride"], a["padding"], a["bias"], a["bn"], a["activation"],
            name=layer_name(node.name),
        )  # fmt: skip

    def op_dense(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        a = node.attrs
        return layers.dense(inputs[0], a["units"], a["bias"], a["activation"], name=layer_name(node.name))

    def op_maxpool(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        a = node.attrs
        return layers.max_pool(inputs[0], a["kernel"], a["stride"], a["padding"], name=layer_name(node.name))

    def op_avgpool(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        a = node.attrs
        return layers.avg_pool(
            inputs[0], a["kernel"], a["stride"], a["padding"], a["include_padding"], name=layer_name(node.name)
        )

    def op_concat(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        return kl.Concatenate(name=layer_name(node.name))(list(inputs))

    def op_add(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        a = node.attrs
        shortcut, residual = inputs
        return layers.residual_add(shortcut, residual, a["scale"], a["activation"], name=layer_name(node.name))

    def op_activation(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        return kl.Activation(node.attrs["fn"], name=layer_name(node.name))(inputs[0])

    def op_dropout(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        return kl.Dropout(node.attrs["rate"], name=layer_name(node.name))(inputs[0])

    def op_global_avgpool(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        return kl.GlobalAveragePooling2D(name=layer_name(node.name))(inputs[0])

    def op_flatten(self, node: Node, inputs: Sequence[keras.KerasTensor]) -> keras.KerasTensor:
        # channels_last Flatten reads H, W, C: the IR's order, so dense kernels are portable.
        return kl.Flatten(name=layer_name(node.name))(inputs[0])
