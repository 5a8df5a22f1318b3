"""Map a timm or torchvision state_dict onto a model built from the matching bundled spec.

timm's Inception models register their layers in the order in which TF-slim builds and
concatenates them, and torchvision's GoogLeNet, Inception-v3 and ResNet-50 in the order of their
papers' figures; the bundled specs write their nodes in the same order, so the i-th conv (or
linear) layer of the reference is the i-th of ours. Every pair is checked for shape, and the
first that does not fit is named.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from archspec.backends.torch.codegen import tensors
from archspec.backends.torch.live import Network

from archspec.spec import Spec


@dataclass(frozen=True)
class ReferenceLayer:
    """One conv or linear layer of a reference state_dict: its weight key and, if any, bias and
    batch-norm key prefix."""

    weight: str
    bias: str | None
    bn: str | None


def reference_layers(state_dict: dict[str, torch.Tensor]) -> list[ReferenceLayer]:
    """The conv and linear layers of a reference state_dict, in registration order: a weight of
    two or four dimensions, its bias if any, and the batch norm registered right after it, before
    any other layer (timm's and torchvision's conv-bn pairs: `conv`/`bn`, `convN`/`bnN`,
    `downsample.0`/`downsample.1`, `Conv2dNormActivation`'s `0`/`1`)."""
    found: list[ReferenceLayer] = []
    for key, tensor in state_dict.items():
        module, _, leaf = key.rpartition(".")
        if leaf == "weight" and tensor.dim() in (2, 4):
            bias = f"{module}.bias" if f"{module}.bias" in state_dict else None
            found.append(ReferenceLayer(key, bias, None))
        elif leaf == "running_mean" and found and found[-1].bn is None:
            found[-1] = replace(found[-1], bn=module)
    return found


# A reference layer's tensors by neutral role: its own weight and bias, its batch norm's four.
BATCH_NORM_KEYS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def _reference_key(layer: ReferenceLayer, role: str) -> str | None:
    if role == "kernel":
        return layer.weight
    if role == "bias":
        return layer.bias
    if role in BATCH_NORM_KEYS and layer.bn is not None:
        return f"{layer.bn}.{BATCH_NORM_KEYS[role]}"
    return None


def flattened_map(spec: Spec, node: str) -> tuple[int, int, int] | None:
    """The HxWxC map that a dense node's input vector was flattened from, where it reads one
    through ops that keep each element in its place (dropout, an activation); else None."""
    current = spec.node(spec.node(node).inputs[0])
    while current.op != "flatten" and len(current.inputs) == 1:
        if spec.shapes[current.inputs[0]] != spec.shapes[current.name]:
            return None
        current = spec.node(current.inputs[0])
    if current.op != "flatten":
        return None
    shape = spec.shapes[current.inputs[0]]
    return (shape[0], shape[1], shape[2]) if len(shape) == 3 else None


def _in_our_order(tensor: torch.Tensor, flattened: tuple[int, int, int] | None) -> torch.Tensor:
    """A reference's dense weight with its columns in archspec's flatten order (H, W, C) where
    the reference flattened a map as PyTorch does (C, H, W)."""
    if flattened is None or tensor.dim() != 2:
        return tensor
    height, width, channels = flattened
    return tensor.reshape(-1, channels, height, width).permute(0, 2, 3, 1).reshape(tensor.shape[0], -1)


def load_in_order(model: Network, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Load the i-th conv or linear layer of `source`'s state_dict into the i-th of the model.
    Every weight of the model is assigned exactly once, from a tensor of its shape, and every
    tensor of the state_dict is used: anything missing or left over is a ValueError that names it."""
    theirs = reference_layers(state_dict)
    ours = list(model.node_modules.items())
    if len(theirs) != len(ours):
        raise ValueError(
            f"the {source} state_dict has {len(theirs)} conv/linear layers but '{model.spec.name}' has {len(ours)}; "
            "is it the state_dict of the matching model?"
        )
    used: set[str] = set()
    with torch.no_grad():
        for layer, (node, module) in zip(theirs, ours, strict=True):
            spec_node = model.spec.node(node)
            flattened = flattened_map(model.spec, node) if spec_node.op == "dense" else None
            width = model.spec.shapes[spec_node.inputs[0]][-1]
            for role, target in tensors(module, spec_node, width).items():
                key = _reference_key(layer, role)
                if key is None or key not in state_dict:
                    raise ValueError(
                        f"node '{node}' needs its {role} {tuple(target.shape)}, which the {source} layer "
                        f"'{layer.weight.rpartition('.')[0]}' lacks"
                    )
                given = _in_our_order(state_dict[key], flattened) if role == "kernel" else state_dict[key]
                if tuple(given.shape) != tuple(target.shape):
                    raise ValueError(
                        f"{source} tensor '{key}' has shape {tuple(given.shape)} but node '{node}' needs "
                        f"{tuple(target.shape)}"
                    )
                target.copy_(given)
                used.add(key)
    left = [k for k in state_dict if k not in used and not k.endswith("num_batches_tracked")]
    if left:
        raise ValueError(f"{source} tensor '{left[0]}' has no place in '{model.spec.name}' ({len(left)} left over)")


def load_reference_weights(model: Network, state_dict: dict[str, torch.Tensor], source: str = "timm") -> None:
    """Load a reference implementation's state_dict into the model built from the matching
    spec: timm's inception_v3, inception_v4 or inception_resnet_v2 (`source="timm"`), or
    torchvision's googlenet, inception_v3 or resnet50 (`source="torchvision"`), or any spec whose
    conv and dense nodes come in the order the reference registers its layers (each conv's batch
    norm registered right after it); every tensor is checked for shape."""
    if source not in ("timm", "torchvision"):
        raise ValueError(f"unknown reference source '{source}'; the torch backend knows 'timm' and 'torchvision'")
    load_in_order(model, state_dict, source)
