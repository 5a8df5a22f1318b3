"""Keras building blocks with the IR's exact semantics, written as functional-API helpers, one
marked helper per op kind (`archspec.codegen.helpers`).

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
import numpy as np
from keras import layers

from archspec.codegen.helpers import emits
from archspec.ops import BatchNorm
from archspec.ops.padding import Padding, axis_pads, output_size, same_pads, window_pads

BN_SUFFIX = "-bn"  # the batch norm after a conv
ACT_SUFFIX = "-act"  # the activation after a conv, dense or add
PAD_SUFFIX = (
    "-pad"  # the explicit padding before a conv or an average pool that counts it
)
RESHAPE_SUFFIX = "-reshape"  # a vector gate made 1x1xC before a multiply
# Where keras.saving finds ScaledAdd when it loads a model. Generated files (and so live models)
# register their copy, the same source, under the same name.
PACKAGE = "archspec"
# Where each neutral role lives: Keras names its variables by those roles, in the node's main layer
# or its batch norm ("-bn/gamma").
BN_ROLES = ("gamma", "beta", "moving_mean", "moving_variance")
MAIN_LAYER = {
    role: f"/{role}"
    for role in ("kernel", "depthwise_kernel", "pointwise_kernel", "bias")
}
CONV_WEIGHTS = {**MAIN_LAYER, **{role: f"{BN_SUFFIX}/{role}" for role in BN_ROLES}}


@emits()
@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledAdd(layers.Layer):  # type: ignore[misc]
    """shortcut + scale * residual, the residual connection of Inception-ResNet. Called on
    [shortcut, residual]; a layer of its own so that `model.save()` keeps the scale."""

    def __init__(self, scale: float = 1.0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs: list[keras.KerasTensor]) -> keras.KerasTensor:
        shortcut, residual = inputs
        return (
            shortcut + residual * self.scale
            if self.scale != 1.0
            else shortcut + residual
        )

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = super().get_config()
        return {**config, "scale": self.scale}


@emits()
def keras_activation(fn: str) -> str:
    """Keras's name of an activation of the spec, where the two differ (the functions are the same)."""
    return {
        "hardswish": "hard_silu",
        "hardsigmoid": "hard_sigmoid",
        "hardtanh": "hard_tanh",
    }.get(fn, fn)


@emits(uses=(keras_activation,))
def activate(x: keras.KerasTensor, activation: str, name: str) -> keras.KerasTensor:
    """The activation after a node's main layer, if it has one."""
    if activation == "none":
        return x
    if activation == "leaky_relu":  # PyTorch's slope, not Keras's default 0.2
        return layers.LeakyReLU(negative_slope=0.01, name=name + ACT_SUFFIX)(x)
    return layers.Activation(keras_activation(activation), name=name + ACT_SUFFIX)(x)


@emits(uses=(BatchNorm, activate))
def normalize_activate(
    x: keras.KerasTensor, bn: BatchNorm | None, activation: str, name: str
) -> keras.KerasTensor:
    """The batch norm and activation after a node's main layer. Keras's batch-norm momentum is
    the weight of the old statistic, the complement of the IR's (PyTorch's)."""
    if bn is not None:
        x = layers.BatchNormalization(
            epsilon=bn.eps,
            momentum=1.0 - bn.momentum,
            scale=bn.scale,
            center=bn.center,
            name=name + BN_SUFFIX,
        )(x)
    return activate(x, activation, name)


@emits()
def explicit_padding(
    x: keras.KerasTensor, padding: Padding, name: str
) -> tuple[keras.KerasTensor, str]:
    """Explicit pads as a zero-padding layer before a valid conv; same and valid as they are."""
    if isinstance(padding, str):
        return x, padding
    top, bottom, left, right = padding
    return layers.ZeroPadding2D(((top, bottom), (left, right)), name=name + PAD_SUFFIX)(
        x
    ), "valid"


@emits("conv", uses=(explicit_padding, normalize_activate), weights=CONV_WEIGHTS)
def conv_bn_act(
    x: keras.KerasTensor,
    filters: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: Padding = "same",
    bias: bool = False,
    bn: BatchNorm | None = None,
    activation: str = "relu",
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
    *,
    name: str,
) -> keras.KerasTensor:
    """Conv, then optional batch norm, then activation."""
    x, padding = explicit_padding(x, padding, name)
    conv = layers.Conv2D(
        filters,
        kernel,
        stride,
        padding,
        dilation_rate=dilation,
        groups=groups,
        use_bias=bias,
        name=name,
    )
    return normalize_activate(conv(x), bn, activation, name)


@emits()
@keras.saving.register_keras_serializable(package=PACKAGE)
class CroppedConv2DTranspose(layers.Conv2DTranspose):  # type: ignore[misc]
    """Keras's Conv2DTranspose, then `crop` cells (top, bottom, left, right) cut off its output:
    PyTorch's `padding` of a transposed conv, in the one layer that holds the node's weights."""

    def __init__(
        self,
        *args: object,
        crop: tuple[int, int, int, int] = (0, 0, 0, 0),
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.crop = tuple(crop)

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        y = super().call(x)
        top, bottom, left, right = self.crop
        return y[:, top : y.shape[1] - bottom, left : y.shape[2] - right, :]

    def compute_output_shape(
        self, shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        n, height, width, channels = super().compute_output_shape(shape)
        top, bottom, left, right = self.crop
        return (n, height - top - bottom, width - left - right, channels)

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = super().get_config()
        return {**config, "crop": self.crop}


@emits(
    "conv_transpose",
    uses=(CroppedConv2DTranspose, normalize_activate),
    weights=CONV_WEIGHTS,
)
def conv_transpose_bn_act(
    x: keras.KerasTensor,
    filters: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: Padding = "valid",
    output_padding: tuple[int, int] = (0, 0),
    bias: bool = True,
    bn: BatchNorm | None = None,
    activation: str = "none",
    *,
    name: str,
) -> keras.KerasTensor:
    """Transposed conv as PyTorch's: a valid Keras one (with the output padding given, so that an
    axis of n cells gives (n - 1) * stride + kernel + output_padding) that crops `padding` cells
    from both ends of each axis; then optional batch norm and activation."""
    crop = (0, 0, 0, 0) if isinstance(padding, str) else padding
    conv = CroppedConv2DTranspose(
        filters,
        kernel,
        stride,
        "valid",
        output_padding=output_padding,
        use_bias=bias,
        crop=crop,
        name=name,
    )
    return normalize_activate(conv(x), bn, activation, name)


@emits(
    "separable_conv", uses=(explicit_padding, normalize_activate), weights=CONV_WEIGHTS
)
def separable_conv_bn_act(
    x: keras.KerasTensor,
    filters: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: Padding = "same",
    depth_multiplier: int = 1,
    bias: bool = False,
    bn: BatchNorm | None = None,
    activation: str = "relu",
    *,
    name: str,
) -> keras.KerasTensor:
    """SeparableConv2D, then optional batch norm, then activation."""
    x, padding = explicit_padding(x, padding, name)
    conv = layers.SeparableConv2D(
        filters,
        kernel,
        stride,
        padding,
        depth_multiplier=depth_multiplier,
        use_bias=bias,
        name=name,
    )
    return normalize_activate(conv(x), bn, activation, name)


@emits(
    "batch_norm",
    uses=(BatchNorm, activate),
    weights={role: f"/{role}" for role in BN_ROLES},
)
def batch_norm_act(
    x: keras.KerasTensor, bn: BatchNorm, activation: str = "none", *, name: str
) -> keras.KerasTensor:
    """Batch norm on its own, then an activation (the momentum as in normalize_activate)."""
    x = layers.BatchNormalization(
        epsilon=bn.eps,
        momentum=1.0 - bn.momentum,
        scale=bn.scale,
        center=bn.center,
        name=name,
    )(x)
    return activate(x, activation, name)


@emits("dense", uses=(activate,), weights=MAIN_LAYER)
def dense(
    x: keras.KerasTensor,
    units: int,
    bias: bool = True,
    activation: str = "none",
    *,
    name: str,
) -> keras.KerasTensor:
    return activate(layers.Dense(units, use_bias=bias, name=name)(x), activation, name)


@emits("layer_norm", weights={"gamma": "/gamma", "beta": "/beta"})
def layer_norm(x: keras.KerasTensor, eps: float, *, name: str) -> keras.KerasTensor:
    """Layer norm over the channels (the last axis) at each position, with the IR's epsilon."""
    return layers.LayerNormalization(axis=-1, epsilon=eps, name=name)(x)


@emits("group_norm", weights={"gamma": "/gamma", "beta": "/beta"})
def group_norm(
    x: keras.KerasTensor, groups: int, eps: float, *, name: str
) -> keras.KerasTensor:
    return layers.GroupNormalization(groups=groups, epsilon=eps, name=name)(x)


@emits()
@keras.saving.register_keras_serializable(package=PACKAGE)
class LayerScale(layers.Layer):  # type: ignore[misc]
    """Each channel times a learned scale (`gamma`), initialised to `init`."""

    def __init__(self, init: float, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.init = float(init)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.gamma = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.init),
            name="gamma",
        )

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return x * self.gamma

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = super().get_config()
        return {**config, "init": self.init}


@emits("layer_scale", uses=(LayerScale,), weights={"gamma": "/gamma"})
def layer_scale(x: keras.KerasTensor, init: float, *, name: str) -> keras.KerasTensor:
    return LayerScale(init, name=name)(x)


@emits("drop_path")
def drop_path(x: keras.KerasTensor, rate: float, *, name: str) -> keras.KerasTensor:
    """Stochastic depth: dropout whose mask is one value per image (broadcast over the rest)."""
    return layers.Dropout(
        rate, noise_shape=(None,) + (1,) * (len(x.shape) - 1), name=name
    )(x)


@emits("dropout")
def dropout(x: keras.KerasTensor, rate: float, *, name: str) -> keras.KerasTensor:
    return layers.Dropout(rate, name=name)(x)


@emits("activation", uses=(keras_activation,))
def activation(
    x: keras.KerasTensor, fn: str, slope: float = 0.01, *, name: str
) -> keras.KerasTensor:
    if fn == "leaky_relu":
        return layers.LeakyReLU(negative_slope=slope, name=name)(x)
    return layers.Activation(keras_activation(fn), name=name)(x)


@emits("concat")
def concat(*inputs: keras.KerasTensor, name: str) -> keras.KerasTensor:
    """Filter concatenation: the inputs joined along the channels, in order."""
    return layers.Concatenate(name=name)(list(inputs))


@emits()
def adaptive_window(n: int, m: int) -> np.ndarray:
    """The (m, n) matrix that averages each of m windows of an axis of n cells, as PyTorch's
    adaptive pooling places them: window i spans floor(i * n / m) to ceil((i + 1) * n / m)."""
    matrix = np.zeros((m, n), np.float32)
    for i in range(m):
        start, end = i * n // m, -(-(i + 1) * n // m)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@emits(uses=(adaptive_window,))
@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaptiveAvgPool(layers.Layer):  # type: ignore[misc]
    """Average pooling to `size`: each axis multiplied by its window-averaging matrix."""

    def __init__(self, size: tuple[int, int], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.size = tuple(size)

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        rows = keras.ops.convert_to_tensor(
            adaptive_window(x.shape[1], self.size[0]), dtype=x.dtype
        )
        columns = keras.ops.convert_to_tensor(
            adaptive_window(x.shape[2], self.size[1]), dtype=x.dtype
        )
        return keras.ops.einsum("hi,wj,nijc->nhwc", rows, columns, x)

    def compute_output_shape(
        self, shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return (shape[0], *self.size, shape[3])

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = super().get_config()
        return {**config, "size": self.size}


@emits("adaptive_avgpool", uses=(AdaptiveAvgPool,))
def adaptive_avgpool(
    x: keras.KerasTensor, size: tuple[int, int], *, name: str
) -> keras.KerasTensor:
    return AdaptiveAvgPool(size, name=name)(x)


@emits("global_avgpool")
def global_avgpool(
    x: keras.KerasTensor, keepdims: bool = False, *, name: str
) -> keras.KerasTensor:
    return layers.GlobalAveragePooling2D(keepdims=keepdims, name=name)(x)


@emits("flatten")
def flatten(x: keras.KerasTensor, *, name: str) -> keras.KerasTensor:
    """Channels last: H, W, C, the IR's order, so dense kernels are portable."""
    return layers.Flatten(name=name)(x)


@emits()
def pad_or_crop(
    x: keras.KerasTensor, top: int, bottom: int, left: int, right: int, value: float
) -> keras.KerasTensor:
    """x padded with `value` by each amount (NHWC), or cropped where an amount is negative."""
    height, width = x.shape[1], x.shape[2]
    x = x[
        :,
        max(-top, 0) : height - max(-bottom, 0),
        max(-left, 0) : width - max(-right, 0),
        :,
    ]
    pads = [
        [0, 0],
        [max(top, 0), max(bottom, 0)],
        [max(left, 0), max(right, 0)],
        [0, 0],
    ]
    return keras.ops.pad(x, pads, constant_values=value)


@emits(uses=(same_pads, axis_pads, output_size, window_pads, pad_or_crop))
@keras.saving.register_keras_serializable(package=PACKAGE)
class WindowPool(layers.Layer):  # type: ignore[misc]
    """A max or average pool with explicit pads or PyTorch's ceil mode, which Keras's pooling
    layers lack: the input is padded (with -inf for max) so that a valid pool gives the IR's output
    size, and an average divides by the cells each window counts (the real cells, and the declared
    pads with `include_padding`, never the reach of a ceil-mode window)."""

    def __init__(
        self,
        mode: str,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: Padding,
        include_padding: bool = False,
        ceil_mode: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.mode, self.kernel, self.stride = mode, tuple(kernel), tuple(stride)
        top, bottom, left, right = (0, 0, 0, 0) if isinstance(padding, str) else padding
        self.padding: Padding = (
            padding if isinstance(padding, str) else (top, bottom, left, right)
        )
        self.include_padding, self.ceil_mode = include_padding, ceil_mode

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        height, width = x.shape[1], x.shape[2]
        top, bottom = window_pads(
            height, self.kernel[0], self.stride[0], self.padding, 0, self.ceil_mode
        )
        left, right = window_pads(
            width, self.kernel[1], self.stride[1], self.padding, 1, self.ceil_mode
        )
        if self.mode == "max":
            padded = pad_or_crop(x, top, bottom, left, right, float("-inf"))
            return keras.ops.max_pool(padded, self.kernel, self.stride, "valid")
        total = keras.ops.average_pool(
            pad_or_crop(x, top, bottom, left, right, 0.0),
            self.kernel,
            self.stride,
            "valid",
        )
        declared_top, declared_bottom = axis_pads(
            height, self.kernel[0], self.stride[0], self.padding, 0
        )
        declared_left, declared_right = axis_pads(
            width, self.kernel[1], self.stride[1], self.padding, 1
        )
        if self.include_padding and (bottom, right) == (
            declared_bottom,
            declared_right,
        ):
            return total
        ones = keras.ops.ones((1, height, width, 1), dtype=x.dtype)
        value = 1.0 if self.include_padding else 0.0
        counted = pad_or_crop(
            ones, declared_top, declared_bottom, declared_left, declared_right, value
        )
        counted = pad_or_crop(
            counted, 0, bottom - declared_bottom, 0, right - declared_right, 0.0
        )
        return total / keras.ops.average_pool(
            counted, self.kernel, self.stride, "valid"
        )

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = super().get_config()
        options = {
            "mode": self.mode,
            "kernel": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
        }
        return {
            **config,
            **options,
            "include_padding": self.include_padding,
            "ceil_mode": self.ceil_mode,
        }


@emits("maxpool", uses=(WindowPool,))
def max_pool(
    x: keras.KerasTensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    ceil_mode: bool = False,
    *,
    name: str,
) -> keras.KerasTensor:
    if isinstance(padding, str) and not ceil_mode:
        return layers.MaxPooling2D(kernel, stride, padding, name=name)(x)
    return WindowPool("max", kernel, stride, padding, ceil_mode=ceil_mode, name=name)(x)


@emits("avgpool", uses=(WindowPool,))
def avg_pool(
    x: keras.KerasTensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    include_padding: bool,
    ceil_mode: bool = False,
    *,
    name: str,
) -> keras.KerasTensor:
    """Keras's same-padded average pool leaves padded cells out of the average, as TensorFlow
    does; counting them (`include_padding`) takes explicit zero padding and a valid pool."""
    if not isinstance(padding, str) or ceil_mode:
        return WindowPool(
            "avg", kernel, stride, padding, include_padding, ceil_mode, name=name
        )(x)
    if padding == "valid" or not include_padding:
        return layers.AveragePooling2D(kernel, stride, padding, name=name)(x)
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None:
        raise ValueError(
            f"average pool '{name}' counts padding and needs a static input size, got {x.shape}"
        )
    pads = (
        same_pads(height, kernel[0], stride[0]),
        same_pads(width, kernel[1], stride[1]),
    )
    if pads != ((0, 0), (0, 0)):
        x = layers.ZeroPadding2D(pads, name=name + PAD_SUFFIX)(x)
    return layers.AveragePooling2D(kernel, stride, "valid", name=name)(x)


@emits("channel_shuffle")
def channel_shuffle(
    x: keras.KerasTensor, groups: int, *, name: str
) -> keras.KerasTensor:
    """The channels in `groups` groups, interleaved: channel j of group i goes to j * groups + i."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    x = layers.Reshape(
        (height, width, groups, channels // groups), name=name + "-groups"
    )(x)
    x = layers.Permute((1, 2, 4, 3), name=name + "-interleave")(x)
    return layers.Reshape((height, width, channels), name=name)(x)


@emits()
def resize_taps(
    n: int, m: int, mode: str, align_corners: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of the m cells of an axis resized from n cells: the two source cells it reads and
    the weight of the second, as PyTorch's interpolate finds them (in its float32 arithmetic)."""
    d = np.arange(m, dtype=np.float32)
    if mode == "nearest":
        scale = np.float32(n) / np.float32(m)
        low = np.minimum(np.floor(d * scale).astype(np.int64), n - 1)
        return low, low, np.zeros(m, np.float32)
    if align_corners:
        source = d * (np.float32(n - 1) / np.float32(m - 1) if m > 1 else np.float32(0))
    else:
        source = np.maximum(
            np.float32(n) / np.float32(m) * (d + np.float32(0.5)) - np.float32(0.5),
            np.float32(0),
        )
    low = source.astype(np.int64)  # the floor: the source is never negative
    return (
        low,
        np.minimum(low + 1, n - 1),
        np.clip(source - low, 0, 1).astype(np.float32),
    )


@emits(uses=(resize_taps,))
@keras.saving.register_keras_serializable(package=PACKAGE)
class Resize(layers.Layer):  # type: ignore[misc]
    """A map resized as PyTorch's interpolate resizes it, to `size`, by `factor`, or to the size of
    a second input: each axis in turn, width first, gathering the source cells each output cell
    reads and, for bilinear, weighting them (so that the sums are PyTorch's, in its order)."""

    def __init__(
        self,
        factor: tuple[int, int] | None = None,
        size: tuple[int, int] | None = None,
        mode: str = "nearest",
        align_corners: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.factor = None if factor is None else tuple(factor)
        self.size = None if size is None else tuple(size)
        self.mode, self.align_corners = mode, bool(align_corners)

    def call(self, inputs: list[keras.KerasTensor]) -> keras.KerasTensor:
        x = inputs[0]
        height, width = x.shape[1], x.shape[2]
        target: tuple[int, ...]
        if len(inputs) > 1:
            target = (inputs[1].shape[1], inputs[1].shape[2])
        elif self.factor is not None:
            target = (height * self.factor[0], width * self.factor[1])
        else:
            assert self.size is not None
            target = self.size
        for axis, n, m in ((2, width, target[1]), (1, height, target[0])):
            if n == m:
                continue
            low, high, weight = resize_taps(n, m, self.mode, self.align_corners)
            near = keras.ops.take(x, low, axis=axis)
            if self.mode == "nearest":
                x = near
                continue
            shape = [1, 1, 1, 1]
            shape[axis] = m
            weight = keras.ops.reshape(
                keras.ops.convert_to_tensor(weight, dtype=x.dtype), shape
            )
            x = near * (1.0 - weight) + keras.ops.take(x, high, axis=axis) * weight
        return x

    def compute_output_shape(
        self, shapes: list[tuple[int | None, ...]]
    ) -> tuple[int | None, ...]:
        n, height, width, channels = shapes[0]
        if len(shapes) > 1:
            return (n, shapes[1][1], shapes[1][2], channels)
        if self.factor is not None:
            return (n, height * self.factor[0], width * self.factor[1], channels)  # type: ignore[operator]
        return (n, *self.size, channels)  # type: ignore[misc]

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = super().get_config()
        return {**config, "factor": self.factor, "size": self.size, "mode": self.mode,
                "align_corners": self.align_corners}  # fmt: skip


@emits("resize", uses=(Resize,))
def resize(
    *inputs: keras.KerasTensor,
    factor: tuple[int, int] | None = None,
    size: tuple[int, int] | None = None,
    mode: str = "nearest",
    align_corners: bool = False,
    name: str,
) -> keras.KerasTensor:
    """The map (and the node whose size it takes, where `like` names one), resized."""
    return Resize(factor, size, mode, align_corners, name=name)(list(inputs))


@emits()
@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelSlice(layers.Layer):  # type: ignore[misc]
    """The channels (the last axis) from `start` up to `stop` (not included)."""

    def __init__(self, start: int, stop: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return x[..., self.start : self.stop]

    def compute_output_shape(
        self, shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return (*shape[:-1], self.stop - self.start)

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = super().get_config()
        return {**config, "start": self.start, "stop": self.stop}


@emits("channel_slice", uses=(ChannelSlice,))
def channel_slice(
    x: keras.KerasTensor, stop: int, start: int = 0, *, name: str
) -> keras.KerasTensor:
    return ChannelSlice(start, stop, name=name)(x)


@emits("center_crop")
def center_crop(
    *inputs: keras.KerasTensor, size: tuple[int, int] | None = None, name: str
) -> keras.KerasTensor:
    """The middle of the map, `size` or the size of a second input (`like`)."""
    x = inputs[0]
    height, width = (
        (inputs[1].shape[1], inputs[1].shape[2])
        if len(inputs) > 1
        else size or x.shape[1:3]
    )
    top, left = (x.shape[1] - height) // 2, (x.shape[2] - width) // 2
    bottom, right = x.shape[1] - height - top, x.shape[2] - width - left
    return layers.Cropping2D(((top, bottom), (left, right)), name=name)(x)


@emits("multiply")
def multiply(
    x: keras.KerasTensor, gate: keras.KerasTensor, *, name: str
) -> keras.KerasTensor:
    """x * gate; a vector gate is first reshaped to 1x1xC, which Multiply broadcasts over H and W."""
    if len(gate.shape) != len(x.shape):
        gate = layers.Reshape((1, 1, gate.shape[-1]), name=name + RESHAPE_SUFFIX)(gate)
    return layers.Multiply(name=name)([x, gate])


@emits("add", uses=(ScaledAdd, activate))
def residual_add(
    shortcut: keras.KerasTensor,
    residual: keras.KerasTensor,
    scale: float = 1.0,
    activation: str = "none",
    *,
    name: str,
) -> keras.KerasTensor:
    """activation(shortcut + scale * residual)."""
    return activate(ScaledAdd(scale, name=name)([shortcut, residual]), activation, name)
