"""Map a timm or torchvision state_dict onto a model built from the matching bundled spec.

timm's Inception models register their layers in the order in which TF-slim builds and
concatenates them, and torchvision's GoogLeNet, Inception-v3 and ResNet-50 in the order of their
papers' figures; the bundled specs write their nodes in the same order, so the i-th conv (or
linear) layer of the reference is the i-th of ours. Every pair is checked for shape, and the
first that does not fit is named.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from archspec.backends.torch.network import Network


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


def _pairs(layer: ReferenceLayer, module: Any) -> list[tuple[str, torch.Tensor]]:
    """(timm key, our tensor) for every tensor of one layer: a Dense, or a ConvBnAct."""
    if isinstance(module, nn.Linear):
        pairs = [(layer.weight, module.weight)]
        if layer.bias and module.bias is not None:
            pairs.append((layer.bias, module.bias))
        return pairs
    assert isinstance(module.conv, nn.Conv2d)
    pairs = [(layer.weight, module.conv.weight)]
    if layer.bias and module.conv.bias is not None:
        pairs.append((layer.bias, module.conv.bias))
    if layer.bn and module.bn is not None:
        bn = module.bn
        assert bn.running_mean is not None and bn.running_var is not None
        pairs += [
            (f"{layer.bn}.weight", bn.weight),
            (f"{layer.bn}.bias", bn.bias),
            (f"{layer.bn}.running_mean", bn.running_mean),
            (f"{layer.bn}.running_var", bn.running_var),
        ]
    return pairs


def load_in_order(model: Network, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Load the i-th conv or linear layer of `source`'s state_dict into the i-th of the model."""
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
            for key, target in _pairs(layer, module):
                given = state_dict[key]
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
