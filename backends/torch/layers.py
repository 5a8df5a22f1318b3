"""PyTorch building blocks with the IR's exact semantics, one marked helper per op kind.

`same` padding is TensorFlow's: when it is the same on both sides (stride 1, odd kernel) it is
given to the conv or pool itself; otherwise it depends on the input size and is applied
explicitly, so a model never silently differs from its TensorFlow lowering. Generated source
files carry their own copy of the definitions they use, with the same attribute names, so that
their state_dict keys equal a built model's. Each helper is marked with the op kind it emits
(`archspec.codegen.helpers`): its signature is how a node is written (the inputs, then the op's
attributes by name), and a module's `weights` say where each neutral role lives in it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archspec.codegen.helpers import emits
from archspec.ops import BatchNorm
from archspec.ops.padding import Padding, axis_pads, output_size, same_pads, window_pads


@emits("activation")
def activate(x: Tensor, fn: str, slope: float = 0.01) -> Tensor:
    """An activation function, by its name in the spec (`slope`: leaky_relu's below 0)."""
    if fn == "relu":
        return F.relu(x)
    if fn == "relu6":
        return F.relu6(x)
    if fn == "gelu":
        return F.gelu(x)
    if fn == "silu":
        return F.silu(x)
    if fn == "sigmoid":
        return torch.sigmoid(x)
    if fn == "tanh":
        return torch.tanh(x)
    if fn == "hardswish":
        return F.hardswish(x)
    if fn == "hardsigmoid":
        return F.hardsigmoid(x)
    if fn == "hardtanh":
        return F.hardtanh(x)
    if fn == "elu":
        return F.elu(x)
    if fn == "mish":
        return F.mish(x)
    if fn == "leaky_relu":
        return F.leaky_relu(x, slope)
    if fn == "softmax":
        return F.softmax(x, dim=1)
    return x  # none


@emits()
def static_padding(kernel: tuple[int, int], stride: tuple[int, int], padding: Padding) -> tuple[int, int] | None:
    """Padding a conv or pool can apply itself (the same on both sides), or None when it must be
    applied explicitly: `same` at a stride or even kernel (it depends on the input size), or
    explicit pads that differ before and after. At stride 1 `same` pads kernel - 1 in total,
    which is symmetric for odd kernels."""
    if padding == "valid":
        return (0, 0)
    if isinstance(padding, str):  # same
        if stride == (1, 1) and kernel[0] % 2 == 1 and kernel[1] % 2 == 1:
            return (kernel[0] // 2, kernel[1] // 2)
        return None
    top, bottom, left, right = padding
    return (top, left) if top == bottom and left == right else None


@emits(uses=(same_pads, axis_pads, output_size, window_pads))
def input_pads(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: Padding, ceil_mode: bool = False
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) to pad this input by before a plain window pass: TensorFlow's
    `same` (the smaller half before, the larger after), the explicit pads, or with ceil_mode the
    pads that give PyTorch's ceil-mode output size (`window_pads`)."""
    if ceil_mode:
        top, bottom = window_pads(x.shape[-2], kernel[0], stride[0], padding, 0, True)
        left, right = window_pads(x.shape[-1], kernel[1], stride[1], padding, 1, True)
        return top, bottom, left, right
    if padding == "same":
        return (*same_pads(x.shape[-2], kernel[0], stride[0]), *same_pads(x.shape[-1], kernel[1], stride[1]))
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


@emits(uses=(BatchNorm,))
def batch_norm(channels: int, bn: BatchNorm | None) -> nn.BatchNorm2d | None:
    """Batch norm without `scale` (gamma) or `center` (beta) keeps the parameter at 1 or 0 and
    frozen, as TF-slim's and Keras's do."""
    if bn is None:
        return None
    layer = nn.BatchNorm2d(channels, eps=bn.eps, momentum=bn.momentum)
    layer.weight.requires_grad_(bn.scale)
    layer.bias.requires_grad_(bn.center)
    return layer


@emits(uses=(activate,))
def normalize_activate(x: Tensor, bn: nn.Module | None, activation: str) -> Tensor:
    """The tail of every conv layer: its batch norm where it has one, then its activation."""
    return activate(x if bn is None else bn(x), activation)


# Where a conv layer's batch norm keeps each neutral role.
BN_WEIGHTS = {
    "gamma": "bn.weight", "beta": "bn.bias", "moving_mean": "bn.running_mean", "moving_variance": "bn.running_var",
}  # fmt: skip


@emits(
    "conv",
    uses=(static_padding, pad_input, batch_norm, normalize_activate),
    weights={"kernel": "conv.weight", "bias": "conv.bias", **BN_WEIGHTS},
)
class ConvBnAct(nn.Module):
    """Conv, then optional batch norm, then activation. `dilation` spreads the kernel over
    dilation * (kernel - 1) + 1 cells, which is what padding is computed for."""

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
        padding: Padding = "same",
        bias: bool = False,
        bn: BatchNorm | None = None,
        activation: str = "relu",
        dilation: tuple[int, int] = (1, 1),
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.extent = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
        fixed = static_padding(self.extent, stride, padding)
        self.pad_in_forward = fixed is None
        self.conv = nn.Conv2d(
            in_channels, filters, kernel, stride, fixed or 0, dilation=dilation, groups=groups, bias=bias
        )
        self.bn = batch_norm(filters, bn)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        if self.pad_in_forward:
            x = pad_input(x, self.extent, self.stride, self.padding)
        return normalize_activate(self.conv(x), self.bn, self.activation)


@emits(
    "conv_transpose",
    uses=(batch_norm, normalize_activate),
    weights={"kernel": "conv.weight", "bias": "conv.bias", **BN_WEIGHTS},
)
class ConvTransposeBnAct(nn.Module):
    """Transposed conv (PyTorch's, `padding` the cells cropped from both ends of each axis), then
    optional batch norm, then activation."""

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
        padding: Padding = "valid",
        output_padding: tuple[int, int] = (0, 0),
        bias: bool = True,
        bn: BatchNorm | None = None,
        activation: str = "none",
    ) -> None:
        super().__init__()
        crop = (0, 0) if isinstance(padding, str) else (padding[0], padding[2])
        self.conv = nn.ConvTranspose2d(in_channels, filters, kernel, stride, crop, output_padding, bias=bias)
        self.bn = batch_norm(filters, bn)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return normalize_activate(self.conv(x), self.bn, self.activation)


@emits(
    "batch_norm",
    uses=(BatchNorm, activate),
    weights={"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"},
)
class BatchNormAct(nn.BatchNorm2d):
    """Batch norm on its own, then an activation; without `scale` or `center` the parameter stays
    at 1 or 0, frozen, as a conv's batch norm keeps it."""

    def __init__(self, in_channels: int, bn: BatchNorm, activation: str = "none") -> None:
        super().__init__(in_channels, eps=bn.eps, momentum=bn.momentum)
        self.weight.requires_grad_(bn.scale)
        self.bias.requires_grad_(bn.center)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return activate(super().forward(x), self.activation)


@emits(
    "separable_conv",
    uses=(static_padding, pad_input, batch_norm, normalize_activate),
    weights={
        "depthwise_kernel": "depthwise.weight", "pointwise_kernel": "pointwise.weight", "bias": "pointwise.bias",
        **BN_WEIGHTS,
    },
)  # fmt: skip
class SeparableConvBnAct(nn.Module):
    """Keras's SeparableConv2D: a depthwise conv (`depth_multiplier` filters per input channel),
    a pointwise 1x1 conv, then optional batch norm and activation."""

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
        padding: Padding = "same",
        depth_multiplier: int = 1,
        bias: bool = False,
        bn: BatchNorm | None = None,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        fixed = static_padding(kernel, stride, padding)
        self.pad_in_forward = fixed is None
        depthwise = in_channels * depth_multiplier
        self.depthwise = nn.Conv2d(in_channels, depthwise, kernel, stride, fixed or 0, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(depthwise, filters, 1, bias=bias)
        self.bn = batch_norm(filters, bn)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        if self.pad_in_forward:
            x = pad_input(x, self.kernel, self.stride, self.padding)
        return normalize_activate(self.pointwise(self.depthwise(x)), self.bn, self.activation)


@emits("dense", uses=(activate,), weights={"kernel": "weight", "bias": "bias"})
class Dense(nn.Linear):
    """A linear layer followed by an activation."""

    def __init__(self, in_channels: int, units: int, bias: bool = True, activation: str = "none") -> None:
        super().__init__(in_channels, units, bias=bias)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return activate(super().forward(x), self.activation)


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
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


@emits("dropout")
class Dropout(nn.Dropout):
    """Dropout of a `rate` of the values in training; nothing in evaluation."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate)


@emits(uses=(static_padding,))
def native_pool_padding(kernel: tuple[int, int], stride: tuple[int, int], padding: Padding) -> tuple[int, int] | None:
    """Padding that F.max_pool2d and F.avg_pool2d apply themselves (at most half the window)."""
    fixed = static_padding(kernel, stride, padding)
    if fixed is None or fixed[0] > kernel[0] // 2 or fixed[1] > kernel[1] // 2:
        return None
    return fixed


@emits("maxpool", uses=(native_pool_padding, pad_input))
def max_pool(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: Padding, ceil_mode: bool = False
) -> Tensor:
    fixed = native_pool_padding(kernel, stride, padding)
    if fixed is not None:  # PyTorch's own rule, padding with -inf
        return F.max_pool2d(x, kernel, stride, fixed, ceil_mode=ceil_mode)
    # padded cells must never win the max
    return F.max_pool2d(pad_input(x, kernel, stride, padding, float("-inf"), ceil_mode), kernel, stride)


@emits("avgpool", uses=(native_pool_padding, pad_input, input_pads), leaf=True)
def avg_pool(
    x: Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    include_padding: bool,
    ceil_mode: bool = False,
) -> Tensor:
    fixed = native_pool_padding(kernel, stride, padding)
    if fixed is not None:
        return F.avg_pool2d(x, kernel, stride, fixed, ceil_mode=ceil_mode, count_include_pad=include_padding)
    total = F.avg_pool2d(pad_input(x, kernel, stride, padding, 0.0, ceil_mode), kernel, stride)
    overhang = ceil_mode and input_pads(x, kernel, stride, padding, True) != input_pads(x, kernel, stride, padding)
    if include_padding and not overhang:
        return total
    # Divide by the cells each window counts, as TensorFlow (real cells) and PyTorch (with
    # include_padding, the declared pads too, never the reach of a ceil-mode window) do: average
    # a map of ones over those cells the same way, and divide by it.
    ones = torch.ones((1, 1, *x.shape[-2:]), dtype=x.dtype, device=x.device)
    top, bottom, left, right = input_pads(x, kernel, stride, padding)
    applied = input_pads(x, kernel, stride, padding, ceil_mode)
    counted = F.pad(ones, (left, right, top, bottom), value=1.0 if include_padding else 0.0)
    reach = [a - d for a, d in zip(applied, (top, bottom, left, right), strict=True)]  # ceil-mode reach
    counted = F.pad(counted, (reach[2], reach[3], reach[0], reach[1]), value=0.0)
    return total / F.avg_pool2d(counted, kernel, stride)


@emits("concat")
def concat(*inputs: Tensor) -> Tensor:
    """Filter concatenation: the inputs joined along the channels, in order."""
    return torch.cat(inputs, 1)


@emits("add", uses=(activate,))
def residual_add(shortcut: Tensor, residual: Tensor, scale: float = 1.0, activation: str = "none") -> Tensor:
    """activation(shortcut + scale * residual)."""
    return activate(shortcut + residual * scale if scale != 1.0 else shortcut + residual, activation)


@emits("channel_shuffle")
def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """The channels in `groups` groups, interleaved: channel j of group i goes to j * groups + i."""
    return x.reshape(x.size(0), groups, -1, x.size(2), x.size(3)).transpose(1, 2).flatten(1, 2)


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
    return F.interpolate(x, size=size, mode=mode, align_corners=align_corners if mode == "bilinear" else None)


@emits("channel_slice")
def channel_slice(x: Tensor, stop: int, start: int = 0) -> Tensor:
    """The channels from `start` up to `stop` (not included)."""
    return x[:, start:stop]


@emits("center_crop", leaf=True)
def center_crop(*inputs: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """The middle of the map, `size` or the size of a second input (`like`)."""
    x = inputs[0]
    height, width = (inputs[1].shape[-2], inputs[1].shape[-1]) if len(inputs) > 1 else size or x.shape[-2:]
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
