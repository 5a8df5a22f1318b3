"""PyTorch building blocks with the IR's exact semantics.

`same` padding is TensorFlow's: when it is the same on both sides (stride 1, odd kernel) it is
given to the conv or pool itself; otherwise it depends on the input size and is applied
explicitly, so a model never silently differs from its TensorFlow lowering. Generated source
files carry their own copy of these few definitions, with the same attribute names, so that
their state_dict keys equal a built model's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archspec.ops import BatchNorm
from archspec.padding import same_pads

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "none": lambda x: x,
    "relu": F.relu,
    "relu6": F.relu6,
    "gelu": F.gelu,
    "silu": F.silu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda x: F.softmax(x, dim=1),
}


def static_padding(kernel: tuple[int, int], stride: tuple[int, int], padding: str) -> tuple[int, int] | None:
    """Padding a conv or pool can apply itself, or None when `same` needs explicit, size-dependent
    padding. At stride 1 `same` pads kernel - 1 in total, which is symmetric for odd kernels."""
    if padding == "valid":
        return (0, 0)
    if stride == (1, 1) and kernel[0] % 2 == 1 and kernel[1] % 2 == 1:
        return (kernel[0] // 2, kernel[1] // 2)
    return None


def pad_same(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], value: float = 0.0) -> Tensor:
    """TensorFlow's `same` padding for this input: the smaller half before, the larger after."""
    top, bottom = same_pads(x.shape[-2], kernel[0], stride[0])
    left, right = same_pads(x.shape[-1], kernel[1], stride[1])
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


class ConvBnAct(nn.Module):
    """Conv, then optional batch norm, then activation. Batch norm without `scale` (gamma) or
    `center` (beta) keeps the parameter at 1 or 0 and frozen, as TF-slim's and Keras's do."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
        padding: str = "same",
        bias: bool = False,
        bn: BatchNorm | None = None,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        fixed = static_padding(kernel, stride, padding)
        self.pad_in_forward = fixed is None
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, fixed or 0, bias=bias)
        self.bn: nn.BatchNorm2d | None = None
        if bn is not None:
            self.bn = nn.BatchNorm2d(out_channels, eps=bn.eps, momentum=bn.momentum)
            self.bn.weight.requires_grad_(bn.scale)
            self.bn.bias.requires_grad_(bn.center)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        if self.pad_in_forward:
            x = pad_same(x, self.kernel, self.stride)
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return ACTIVATIONS[self.activation](x)


class Dense(nn.Linear):
    """A linear layer followed by an activation."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "none") -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return ACTIVATIONS[self.activation](super().forward(x))


def max_pool(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: str) -> Tensor:
    fixed = static_padding(kernel, stride, padding)
    if fixed is None:  # padded cells must never win the max
        return F.max_pool2d(pad_same(x, kernel, stride, value=float("-inf")), kernel, stride)
    return F.max_pool2d(x, kernel, stride, fixed)


def avg_pool(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: str, include_padding: bool
) -> Tensor:
    fixed = static_padding(kernel, stride, padding)
    if fixed is not None:
        return F.avg_pool2d(x, kernel, stride, fixed, count_include_pad=include_padding)
    total = F.avg_pool2d(pad_same(x, kernel, stride), kernel, stride)
    if include_padding:
        return total
    # TensorFlow divides by the number of real cells under each window: average a padded map of
    # ones the same way and divide by it.
    ones = torch.ones((1, 1, *x.shape[-2:]), dtype=x.dtype, device=x.device)
    return total / F.avg_pool2d(pad_same(ones, kernel, stride), kernel, stride)


def residual_add(shortcut: Tensor, residual: Tensor, scale: float, activation: str) -> Tensor:
    """activation(shortcut + scale * residual)."""
    return ACTIVATIONS[activation](shortcut + residual * scale if scale != 1.0 else shortcut + residual)


def flatten_hwc(x: Tensor) -> Tensor:
    """Flatten in H, W, C order, the IR's (and TensorFlow's) order, so dense weights are portable."""
    return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x.flatten(1)
