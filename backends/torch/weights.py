"""Framework-neutral weights of a live PyTorch model: each tensor under its neutral role
(`archspec.weights.neutral`), in and out of PyTorch's layouts.

Where a module keeps each role is its helper's to say (`archspec.backends.torch.layers`); how a
role is laid out is its op kind's (`archspec.ops.layout`): a conv kernel is (kh, kw, in, out)
in the neutral format and (out, in, kh, kw) here, a transposed conv's (kh, kw, out, in) and
(in, out, kh, kw), a dense kernel (in, out) and (out, in), a depthwise kernel
(kh, kw, in, multiplier) and (in * multiplier, 1, kh, kw).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from archspec.backends.torch.codegen import tensors
from archspec.backends.torch.live import Network

from archspec.ops import layout
from archspec.weights import neutral


def to_neutral(kind: str, tensor: torch.Tensor, shape: tuple[int, ...] = ()) -> np.ndarray:
    """A tensor in the neutral format of its layout kind; `shape` is the neutral shape (a
    depthwise kernel's multiplier is known only from it)."""
    array = tensor.detach().cpu().float().numpy()
    if kind in ("conv", "conv_transpose"):  # (out, in, kh, kw) and (in, out, kh, kw): the axes swap alike
        array = array.transpose(2, 3, 1, 0)
    elif kind == "dense":
        array = array.T
    elif kind == "depthwise":  # PyTorch (in * m, 1, kh, kw), channel c's m filters together
        kh, kw, channels, multiplier = shape
        array = array.reshape(channels, multiplier, kh, kw).transpose(2, 3, 0, 1)
    return np.array(array, order="C", copy=True)  # a snapshot: never a view of the model's memory


def from_neutral(kind: str, array: np.ndarray) -> torch.Tensor:
    if kind in ("conv", "conv_transpose"):
        array = array.transpose(3, 2, 0, 1)
    elif kind == "dense":
        array = array.T
    elif kind == "depthwise":
        kh, kw, channels, multiplier = array.shape
        array = array.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)
    return torch.from_numpy(np.ascontiguousarray(array))


def _weighted(model: Network) -> list[tuple[str, dict[str, torch.Tensor]]]:
    """Each weighted node and its tensors by neutral role."""
    shapes = model.spec.shapes
    found = []
    for name, module in model.node_modules.items():
        node = model.spec.node(name)
        found.append((name, tensors(module, node, shapes[node.inputs[0]][-1])))
    return found


def get_weights(model: Network) -> dict[str, np.ndarray]:
    """Every weight of the model as `{node/role: float32 array}` in the neutral layouts."""
    shapes = neutral.expected_shapes(model.spec)
    return {
        neutral.key(name, role): to_neutral(
            layout(model.spec.node(name).op, role), tensor, shapes[neutral.key(name, role)]
        )
        for name, found in _weighted(model)
        for role, tensor in found.items()
    }


def set_weights(model: Network, weights: dict[str, Any]) -> None:
    """Load neutral weights; every array the spec needs must be there with the right shape."""
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    neutral.check(model.spec, arrays)
    with torch.no_grad():
        for name, found in _weighted(model):
            for role, tensor in found.items():
                tensor.copy_(from_neutral(layout(model.spec.node(name).op, role), arrays[neutral.key(name, role)]))
