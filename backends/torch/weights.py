"""Framework-neutral weights of a live PyTorch model: each tensor under its neutral role
(`archspec.weights.neutral`), in and out of PyTorch's layouts.

Keys and layouts are those of `archspec.weights.neutral`, shared with the TensorFlow backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from archspec.backends.torch.codegen import emitter
from archspec.backends.torch.live import Network
from torch import nn

from archspec.weights import neutral

if TYPE_CHECKING:
    from archspec.ir import Node


def _roles(module: nn.Module, node: Node) -> dict[str, torch.Tensor]:
    """A layer's tensors under their neutral roles, in PyTorch layout, as its op's emitter says.
    Which batch-norm tensors are weights is the spec's to say, whatever `requires_grad` is now."""
    return emitter(node.op).tensors(module, node.attrs)


CONV_KERNELS = ("kernel", "pointwise_kernel")  # PyTorch (out, in, kh, kw) or (out, in); neutral (kh, kw, in, out)


def _to_neutral(role: str, tensor: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """A tensor in the neutral layout of its role; `shape` is that layout's shape."""
    array = tensor.detach().cpu().float().numpy()
    if role in CONV_KERNELS:
        array = array.transpose(2, 3, 1, 0) if array.ndim == 4 else array.T
    elif role == "depthwise_kernel":  # PyTorch (in * m, 1, kh, kw), channel c's m filters together
        kh, kw, channels, multiplier = shape
        array = array.reshape(channels, multiplier, kh, kw).transpose(2, 3, 0, 1)
    return np.array(array, order="C", copy=True)  # a snapshot: never a view of the model's memory


def _from_neutral(role: str, array: np.ndarray) -> torch.Tensor:
    if role in CONV_KERNELS:
        array = array.transpose(3, 2, 0, 1) if array.ndim == 4 else array.T
    elif role == "depthwise_kernel":
        kh, kw, channels, multiplier = array.shape
        array = array.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)
    return torch.from_numpy(np.ascontiguousarray(array))


def get_weights(model: Network) -> dict[str, np.ndarray]:
    """Every weight of the model as `{node/role: float32 array}` in the neutral layouts."""
    shapes = neutral.expected_shapes(model.spec)
    return {
        neutral.key(node, role): _to_neutral(role, tensor, shapes[neutral.key(node, role)])
        for node, module in model.node_modules.items()
        for role, tensor in _roles(module, model.spec.node(node)).items()
    }


def set_weights(model: Network, weights: dict[str, Any]) -> None:
    """Load neutral weights; every array the spec needs must be there with the right shape."""
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    neutral.check(model.spec, arrays)
    with torch.no_grad():
        for node, module in model.node_modules.items():
            for role, tensor in _roles(module, model.spec.node(node)).items():
                tensor.copy_(_from_neutral(role, arrays[neutral.key(node, role)]))
