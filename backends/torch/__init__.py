"""The PyTorch backend: a live nn.Module from a spec, framework-neutral weights, reference weights.

    model = archspec.backends.torch.build(archspec.load("specs/inception_v4.yaml"))
    weights = archspec.backends.torch.get_weights(model)        # {"stem/conv2d_1a/kernel": array, ...}
    archspec.backends.torch.set_weights(other_model, weights)

Keys and layouts are those of `archspec.backends.weights`, shared with the TensorFlow backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from archspec.backends import weights as neutral
from archspec.backends.torch.codegen import emitter
from archspec.backends.torch.network import Network, build

if TYPE_CHECKING:
    from archspec.ir import Node

__all__ = ["Network", "build", "get_weights", "load_reference_weights", "set_weights"]


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


def load_reference_weights(model: Network, state_dict: dict[str, torch.Tensor], source: str = "timm") -> None:
    """Load a reference implementation's state_dict into the model built from the matching
    spec: timm's inception_v3, inception_v4 or inception_resnet_v2 (`source="timm"`), or
    torchvision's googlenet, inception_v3 or resnet50 (`source="torchvision"`), or any spec whose
    conv and dense nodes come in the order the reference registers its layers (each conv's batch
    norm registered right after it); every tensor is checked for shape."""
    from archspec.backends.torch.reference import load_in_order

    if source not in ("timm", "torchvision"):
        raise ValueError(f"unknown reference source '{source}'; the torch backend knows 'timm' and 'torchvision'")
    load_in_order(model, state_dict, source)
