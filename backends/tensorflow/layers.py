"""Keras building blocks with the IR's exact semantics, written as functional-API helpers.

Each helper adds the layers of one IR node to a functional graph and names them after the node,
so the live lowering and a generated source file (which carries its own copy of these very
definitions) produce models with the same layer names, hence the same weights.

Naming: a node's main layer takes the node's Keras name (the IR name with "/" written as ".",
which Keras allows, as it does not allow "/"); the extra layers of the same node add one of the
suffixes below. IR name parts are identifiers, so they contain neither "." nor "-", and no two
layers of a model can get one name.

`same` padding of Keras convs and pools is TensorFlow's, which is the IR's. Only average pooling
that counts padded cells (PyTorch's default) has no Keras layer: it is explicit zero padding
followed by a valid pool.
"""

from __future__ import annotations

import keras
from keras import layers

from archspec.ops import BatchNorm
from archspec.padding import same_pads

BN_SUFFIX = "-bn"  # the batch norm after a conv
ACT_SUFFIX = "-act"  # the activation after a conv, dense or add
PAD_SUFFIX = "-pad"  # the explicit padding before an average pool that counts it
# Where keras.saving finds ScaledAdd when it loads a model. Generated files (and so live models)
# register their copy, the same source, under the same name.
PACKAGE = "archspec"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledAdd(layers.Layer):  # type: ignore[misc]
    """shortcut + scale * residual, the residual connection of Inception-ResNet. Called on
    [shortcut, residual]; a layer of its own so that `model.save()` keeps the scale."""

    def __init__(self, scale: float = 1.0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs: list[keras.KerasTensor]) -> keras.KerasTensor:
        shortcut, residual = inputs
        return shortcut + residual * self.scale if self.scale != 1.0 else shortcut + residual

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = super().get_config()
        return {**config, "scale": self.scale}


def activate(x: keras.KerasTensor, activation: str, name: str) -> keras.KerasTensor:
    """The activation after a node's main layer, if it has one."""
    if activation == "none":
        return x
    return layers.Activation(activation, name=name + ACT_SUFFIX)(x)


def conv_bn_act(
    x: keras.KerasTensor,
    filters: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: str = "same",
    bias: bool = False,
    bn: BatchNorm | None = None,
    activation: str = "relu",
    *,
    name: str,
) -> keras.KerasTensor:
    """Conv, then optional batch norm, then activation. Keras's batch-norm momentum is the weight
    of the old statistic, the complement of the IR's (PyTorch's)."""
    x = layers.Conv2D(filters, kernel, stride, padding, use_bias=bias, name=name)(x)
    if bn is not None:
        x = layers.BatchNormalization(
            epsilon=bn.eps, momentum=1.0 - bn.momentum, scale=bn.scale, center=bn.center, name=name + BN_SUFFIX
        )(x)
    return activate(x, activation, name)


def dense(
    x: keras.KerasTensor, units: int, bias: bool = True, activation: str = "none", *, name: str
) -> keras.KerasTensor:
    return activate(layers.Dense(units, use_bias=bias, name=name)(x), activation, name)


def max_pool(
    x: keras.KerasTensor, kernel: tuple[int, int], stride: tuple[int, int], padding: str, *, name: str
) -> keras.KerasTensor:
    return layers.MaxPooling2D(kernel, stride, padding, name=name)(x)


def avg_pool(
    x: keras.KerasTensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: str,
    include_padding: bool,
    *,
    name: str,
) -> keras.KerasTensor:
    """Keras's same-padded average pool leaves padded cells out of the average, as TensorFlow
    does; counting them (`include_padding`) takes explicit zero padding and a valid pool."""
    if padding == "valid" or not include_padding:
        return layers.AveragePooling2D(kernel, stride, padding, name=name)(x)
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None:
        raise ValueError(f"average pool '{name}' counts padding and needs a static input size, got {x.shape}")
    pads = (same_pads(height, kernel[0], stride[0]), same_pads(width, kernel[1], stride[1]))
    if pads != ((0, 0), (0, 0)):
        x = layers.ZeroPadding2D(pads, name=name + PAD_SUFFIX)(x)
    return layers.AveragePooling2D(kernel, stride, "valid", name=name)(x)


def residual_add(
    shortcut: keras.KerasTensor, residual: keras.KerasTensor, scale: float, activation: str, *, name: str
) -> keras.KerasTensor:
    """activation(shortcut + scale * residual)."""
    return activate(ScaledAdd(scale, name=name)([shortcut, residual]), activation, name)
