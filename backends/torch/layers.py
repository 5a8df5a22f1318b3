"""PyTorch building blocks with the IR's exact semantics, one marked helper per op kind.

`same` padding is TensorFlow's. Where a conv or pool can apply it itself (the same on both
sides, or PyTorch's own `same` at stride 1) the generated code gives it the number of cells;
where it depends on the input's size (at a stride) a `SamePad` module pads each input first, so
a model never silently differs from its TensorFlow lowering. The code generator resolves
padding once, when it writes a layer whose kernel, stride and padding are known
(`conv_padding`, `max_pool`, `avg_pool`), so a file holds only the definitions its layers use.
Generated files carry their own copy of those definitions, with the same attribute names, so
that their state_dict keys equal a built model's. Each helper is marked with the op kind it
emits (`archspec.codegen.helpers`): its signature is how a node is written (the inputs, then the
op's attributes by name), and a module's `weights` say where each neutral role lives in it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archspec.codegen.helpers import emits
from archspec.ops import BatchNorm
from archspec.ops.padding import Padding, axis_pads, output_size, same_pads, window_pads


@emits("activation", module=True)
def activation_layer(fn: str, slope: float = 0.01) -> nn.Module:
    """The activation named in the spec, as a module (`slope`: leaky_relu's below 0)."""
    if fn == "leaky_relu":
        return nn.LeakyReLU(slope)
    if fn == "softmax":
        return nn.Softmax(dim=1)
    modules = {
        "relu": nn.ReLU,
        "relu6": nn.ReLU6,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "hardswish": nn.Hardswish,
        "hardsigmoid": nn.Hardsigmoid,
        "hardtanh": nn.Hardtanh,
        "elu": nn.ELU,
        "mish": nn.Mish,
        "none": nn.Identity,
    }
    return modules[fn]()


@emits(uses=(same_pads,), leaf=True)
def same_pad(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], value: float = 0.0
) -> Tensor:
    """x padded by TensorFlow's `same` for its size: the smaller half before."""
    top, bottom = same_pads(x.shape[-2], kernel[0], stride[0])
    left, right = same_pads(x.shape[-1], kernel[1], stride[1])
    return F.pad(x, (left, right, top, bottom), value=value)


@emits(uses=(same_pad,))
class SamePad(nn.Module):
    """TensorFlow's `same` padding at a stride, which depends on the input's size: computed for
    each input (`kernel` is the extent a dilated kernel spans; a max pool pads with -inf)."""

    def __init__(
        self, kernel: tuple[int, int], stride: tuple[int, int], value: float = 0.0
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.value = kernel, stride, value

    def forward(self, x: Tensor) -> Tensor:
        return same_pad(x, self.kernel, self.stride, self.value)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, value={self.value}"


@emits(uses=(SamePad,))
def conv_padding(
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    dilation: tuple[int, int] = (1, 1),
) -> int | tuple[int, int] | nn.Module:
    """A conv's padding as PyTorch applies it: cells on each side, or a module that pads the
    input first where the sides differ (explicit pads; `same` at stride 1 with an even kernel,
    the larger half after) or depend on the input's size (`same` at a stride)."""
    extent = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    if padding == "valid" or extent == (1, 1):
        return 0
    if isinstance(padding, str) and stride != (1, 1):
        return SamePad(extent, stride)
    if isinstance(padding, str):  # same at stride 1: extent - 1 cells in all
        top, left = (extent[0] - 1) // 2, (extent[1] - 1) // 2
        padding = (top, extent[0] - 1 - top, left, extent[1] - 1 - left)
    top, bottom, left, right = padding
    if top == bottom and left == right:
        return (top, left)
    return nn.ZeroPad2d((left, right, top, bottom))


@emits(uses=(BatchNorm,))
def batch_norm(channels: int, bn: BatchNorm) -> nn.BatchNorm2d:
    """Batch norm without `scale` (gamma) or `center` (beta) keeps the parameter at 1 or 0 and
    frozen, as TF-slim's and Keras's do."""
    layer = nn.BatchNorm2d(channels, eps=bn.eps, momentum=bn.momentum)
    layer.weight.requires_grad_(bn.scale)
    layer.bias.requires_grad_(bn.center)
    return layer


# Where a conv layer's batch norm keeps each neutral role.
BN_WEIGHTS = {
    "gamma": "bn.weight",
    "beta": "bn.bias",
    "moving_mean": "bn.running_mean",
    "moving_variance": "bn.running_var",
}


@emits(
    "conv",
    uses=(batch_norm, activation_layer),
    weights={"kernel": "conv.weight", "bias": "conv.bias", **BN_WEIGHTS},
    resolve={"padding": conv_padding},
)
class ConvBnAct(nn.Sequential):
    """Conv, then optional batch norm, then activation. `padding` is as `conv_padding` gives it:
    a module there pads the input first."""

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | nn.Module = 0,
        bias: bool = False,
        bn: BatchNorm | None = None,
        activation: str = "relu",
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
    ) -> None:
        super().__init__()
        if isinstance(padding, nn.Module):
            self.pad, padding = padding, 0
        self.conv = nn.Conv2d(
            in_channels,
            filters,
            kernel,
            stride,
            padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        if bn is not None:
            self.bn = batch_norm(filters, bn)
        self.act = activation_layer(activation)


@emits(
    "conv_transpose",
    uses=(batch_norm, activation_layer),
    weights={"kernel": "conv.weight", "bias": "conv.bias", **BN_WEIGHTS},
)
class ConvTransposeBnAct(nn.Sequential):
    """Transposed conv (PyTorch's, `padding` the cells cropped from both ends of each axis), then
    optional batch norm, then activation."""

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: Padding = "valid",
        output_padding: tuple[int, int] = (0, 0),
        bias: bool = True,
        bn: BatchNorm | None = None,
        activation: str = "none",
    ) -> None:
        super().__init__()
        crop = (0, 0) if isinstance(padding, str) else (padding[0], padding[2])
        self.conv = nn.ConvTranspose2d(
            in_channels, filters, kernel, stride, crop, output_padding, bias=bias
        )
        if bn is not None:
            self.bn = batch_norm(filters, bn)
        self.act = activation_layer(activation)


@emits(
    "batch_norm",
    uses=(BatchNorm, activation_layer),
    weights={
        "gamma": "weight",
        "beta": "bias",
        "moving_mean": "running_mean",
        "moving_variance": "running_var",
    },
)
class BatchNormAct(nn.BatchNorm2d):
    """Batch norm on its own, then an activation; without `scale` or `center` the parameter stays
    at 1 or 0, frozen, as a conv's batch norm keeps it."""

    def __init__(
        self, in_channels: int, bn: BatchNorm, activation: str = "none"
    ) -> None:
        super().__init__(in_channels, eps=bn.eps, momentum=bn.momentum)
        self.weight.requires_grad_(bn.scale)
        self.bias.requires_grad_(bn.center)
        self.act = activation_layer(activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(super().forward(x))

    def _check_input_dim(self, input: Tensor) -> None:
        """Nothing to check: the spec's shapes are checked. (torch.fx could not trace the check,
        a condition on the traced input, in a subclass it traces through.)"""


@emits(
    "separable_conv",
    uses=(batch_norm, activation_layer),
    weights={
        "depthwise_kernel": "depthwise.weight",
        "pointwise_kernel": "pointwise.weight",
        "bias": "pointwise.bias",
        **BN_WEIGHTS,
    },
    resolve={"padding": conv_padding},
)
class SeparableConvBnAct(nn.Sequential):
    """Keras's SeparableConv2D: a depthwise conv (`depth_multiplier` filters per input channel),
    a pointwise 1x1 conv, then optional batch norm and activation. `padding` is as
    `conv_padding` gives it."""

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | nn.Module = 0,
        depth_multiplier: int = 1,
        bias: bool = False,
        bn: BatchNorm | None = None,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if isinstance(padding, nn.Module):
            self.pad, padding = padding, 0
        depthwise = in_channels * depth_multiplier
        self.depthwise = nn.Conv2d(
            in_channels,
            depthwise,
            kernel,
            stride,
            padding,
            groups=in_channels,
            bias=False,
        )
        self.pointwise = nn.Conv2d(depthwise, filters, 1, bias=bias)
        if bn is not None:
            self.bn = batch_norm(filters, bn)
        self.act = activation_layer(activation)


@emits("dense", uses=(activation_layer,), weights={"kernel": "weight", "bias": "bias"})
class Dense(nn.Linear):
    """A linear layer followed by an activation."""

    def __init__(
        self, in_channels: int, units: int, bias: bool = True, activation: str = "none"
    ) -> None:
        super().__init__(in_channels, units, bias=bias)
        self.act = activation_layer(activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(super().forward(x))


@emits("layer_norm", weights={"gamma": "weight", "beta": "bias"})
class LayerNorm(nn.LayerNorm):
    """Layer norm over the channels at each position: the channels moved last, normalised, and
    moved back (on a vector (N, C) the moves do nothing)."""

    def __init__(self, in_channels: int, eps: float) -> None:
        super().__init__(in_channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


@emits("group_norm", weights={"gamma": "weight", "beta": "bias"})
class GroupNorm(nn.GroupNorm):
    """Group norm, with the input width first as every helper's constructor takes it."""

    def __init__(self, in_channels: int, groups: int, eps: float) -> None:
        super().__init__(groups, in_channels, eps=eps)


@emits("layer_scale", weights={"gamma": "gamma"})
class LayerScale(nn.Module):
    """Each channel times a learned scale, initialised to `init`."""

    def __init__(self, in_channels: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((in_channels,), init))

    def forward(self, x: Tensor) -> Tensor:
        return (x.movedim(1, -1) * self.gamma).movedim(-1, 1)

    def extra_repr(self) -> str:
        return f"{self.gamma.numel()}"


@emits("drop_path")
class DropPath(nn.Module):
    """Stochastic depth: in training, each image zeroed with probability `rate`, the others
    divided by 1 - rate; the identity in evaluation."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.empty(
            (x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device
        ).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


@emits("dropout")
class Dropout(nn.Dropout):
    """Dropout of a `rate` of the values in training; nothing in evaluation."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate)


@emits(uses=(same_pads, axis_pads, output_size, window_pads))
def input_pads(
    x: Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    ceil_mode: bool = False,
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) to pad this input by before a plain window pass: TensorFlow's
    `same` (the smaller half before, the larger after), the explicit pads, or with ceil_mode the
    pads that give PyTorch's ceil-mode output size (`window_pads`)."""
    if ceil_mode:
        top, bottom = window_pads(x.shape[-2], kernel[0], stride[0], padding, 0, True)
        left, right = window_pads(x.shape[-1], kernel[1], stride[1], padding, 1, True)
        return top, bottom, left, right
    if padding == "same":
        top, bottom = same_pads(x.shape[-2], kernel[0], stride[0])
        left, right = same_pads(x.shape[-1], kernel[1], stride[1])
        return top, bottom, left, right
    if isinstance(padding, str):  # valid
        return (0, 0, 0, 0)
    top, bottom, left, right = padding
    return top, bottom, left, right


@emits(uses=(input_pads,), leaf=True)
def pad_input(
    x: Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    value: float = 0.0,
    ceil_mode: bool = False,
) -> Tensor:
    top, bottom, left, right = input_pads(x, kernel, stride, padding, ceil_mode)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)  # a negative pad crops


@emits(uses=(input_pads, pad_input), leaf=True)
def padded_avg_pool(
    x: Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    include_padding: bool,
    ceil_mode: bool = False,
) -> Tensor:
    """Average pooling over explicitly padded input, divided by the cells each window counts, as
    TensorFlow (real cells) and PyTorch (with include_padding, the declared pads too, never the
    reach of a ceil-mode window) count them."""
    total = F.avg_pool2d(
        pad_input(x, kernel, stride, padding, 0.0, ceil_mode), kernel, stride
    )
    applied = input_pads(x, kernel, stride, padding, ceil_mode)
    declared = input_pads(x, kernel, stride, padding)
    if include_padding and applied == declared:
        return total
    # average a map of ones over the counted cells the same way, and divide by it
    ones = torch.ones((1, 1, *x.shape[-2:]), dtype=x.dtype, device=x.device)
    top, bottom, left, right = declared
    counted = F.pad(ones, (left, right, top, bottom), value=float(include_padding))
    reach = [a - d for a, d in zip(applied, declared, strict=True)]  # ceil-mode reach
    counted = F.pad(counted, (reach[2], reach[3], reach[0], reach[1]), value=0.0)
    return total / F.avg_pool2d(counted, kernel, stride)


@emits(uses=(conv_padding,))
def native_pool_padding(
    kernel: tuple[int, int], stride: tuple[int, int], padding: Padding
) -> tuple[int, int] | None:
    """Padding that PyTorch's pools apply themselves (the same on both sides, at most half the
    window), or None."""
    resolved = conv_padding(kernel, stride, padding)
    if resolved == 0:
        return (0, 0)
    if not isinstance(resolved, tuple):
        return None
    if resolved[0] > kernel[0] // 2 or resolved[1] > kernel[1] // 2:
        return None
    return resolved


@emits(uses=(pad_input,))
class PaddedMaxPool(nn.Module):
    """Max pooling with padding PyTorch's pool cannot apply itself (TensorFlow's `same` at a
    stride, pads that differ before and after): -inf pads, which never win the max."""

    def __init__(
        self,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: Padding,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.ceil_mode = ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        inf = float("-inf")
        x = pad_input(x, self.kernel, self.stride, self.padding, inf, self.ceil_mode)
        return F.max_pool2d(x, self.kernel, self.stride)


@emits("maxpool", uses=(native_pool_padding, SamePad, PaddedMaxPool), module=True)
def max_pool(
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    ceil_mode: bool = False,
) -> nn.Module:
    """PyTorch's max pool where it can pad as the spec says; after a SamePad (with -inf, which
    never wins the max) at a stride; else a PaddedMaxPool."""
    fixed = native_pool_padding(kernel, stride, padding)
    if fixed is not None:
        return nn.MaxPool2d(kernel, stride, fixed, ceil_mode=ceil_mode)
    if padding == "same" and not ceil_mode:
        same = SamePad(kernel, stride, float("-inf"))
        return nn.Sequential(same, nn.MaxPool2d(kernel, stride))
    return PaddedMaxPool(kernel, stride, padding, ceil_mode)


@emits(uses=(padded_avg_pool,))
class PaddedAvgPool(nn.Module):
    """Average pooling with padding PyTorch's pool cannot apply itself."""

    def __init__(
        self,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: Padding,
        include_padding: bool,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.include_padding, self.ceil_mode = include_padding, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return padded_avg_pool(
            x,
            self.kernel,
            self.stride,
            self.padding,
            self.include_padding,
            self.ceil_mode,
        )


@emits("avgpool", uses=(native_pool_padding, PaddedAvgPool), module=True)
def avg_pool(
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    include_padding: bool,
    ceil_mode: bool = False,
) -> nn.Module:
    """PyTorch's average pool where it can pad and count as the spec says, else a
    PaddedAvgPool."""
    fixed = native_pool_padding(kernel, stride, padding)
    if fixed is None:
        return PaddedAvgPool(kernel, stride, padding, include_padding, ceil_mode)
    return nn.AvgPool2d(
        kernel, stride, fixed, ceil_mode=ceil_mode, count_include_pad=include_padding
    )


@emits("concat")
def concat(*inputs: Tensor) -> Tensor:
    """Filter concatenation: the inputs joined along the channels, in order."""
    return torch.cat(inputs, 1)


@emits("add", uses=(activation_layer,))
class ResidualAdd(nn.Module):
    """activation(shortcut + scale * residual)."""

    def __init__(self, scale: float = 1.0, activation: str = "none") -> None:
        super().__init__()
        self.scale = scale
        self.act = activation_layer(activation)

    def forward(self, shortcut: Tensor, residual: Tensor) -> Tensor:
        if self.scale != 1.0:
            residual = residual * self.scale
        return self.act(shortcut + residual)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


@emits("channel_shuffle")
def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """The channels in `groups` groups, interleaved: channel j of group i goes to j * groups + i."""
    return (
        x.reshape(x.size(0), groups, -1, x.size(2), x.size(3))
        .transpose(1, 2)
        .flatten(1, 2)
    )


@emits("resize", leaf=True)
def resize(
    *inputs: Tensor,
    factor: tuple[int, int] | None = None,
    size: tuple[int, int] | None = None,
    mode: str = "nearest",
    align_corners: bool = False,
) -> Tensor:
    """The map resized by `factor`, to `size`, or to the size of a second input (`like`)."""
    x = inputs[0]
    if len(inputs) > 1:
        size = (inputs[1].shape[-2], inputs[1].shape[-1])
    elif factor is not None:
        size = (x.shape[-2] * factor[0], x.shape[-1] * factor[1])
    return F.interpolate(
        x,
        size=size,
        mode=mode,
        align_corners=align_corners if mode == "bilinear" else None,
    )


@emits("channel_slice")
def channel_slice(x: Tensor, stop: int, start: int = 0) -> Tensor:
    """The channels from `start` up to `stop` (not included)."""
    return x[:, start:stop]


@emits("center_crop", leaf=True)
def center_crop(*inputs: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """The middle of the map, `size` or the size of a second input (`like`)."""
    x = inputs[0]
    height, width = (
        (inputs[1].shape[-2], inputs[1].shape[-1])
        if len(inputs) > 1
        else size or x.shape[-2:]
    )
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[:, :, top : top + height, left : left + width]


@emits("multiply", leaf=True)
def multiply(x: Tensor, gate: Tensor) -> Tensor:
    """x * gate, a vector gate (N, C) broadcast over H and W as a 1x1xC one is."""
    return x * (gate if gate.dim() == x.dim() else gate[:, :, None, None])


@emits("adaptive_avgpool")
def adaptive_avgpool(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Average pooling to `size`, whatever the input's size."""
    return F.adaptive_avg_pool2d(x, size)


@emits("global_avgpool")
def global_avgpool(x: Tensor, keepdims: bool = False) -> Tensor:
    """The mean over H and W: a vector of C, or 1x1xC with `keepdims`."""
    return x.mean((2, 3), keepdim=keepdims)


@emits("flatten", leaf=True)
def flatten_hwc(x: Tensor) -> Tensor:
    """Flatten in H, W, C order, the IR's (and TensorFlow's) order, so dense weights are portable."""
    return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x.flatten(1)
