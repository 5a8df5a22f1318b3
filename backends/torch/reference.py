"""Map a timm state_dict onto a model built from the matching bundled spec.

timm's Inception models register their layers in the order in which TF-slim builds and
concatenates them, which is the order of the bundled specs; so the i-th conv (or linear) layer of
timm is the i-th of ours. Every pair is checked for shape, and the first that does not fit is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from backends.torch.network import Network


@dataclass(frozen=True)
class TimmLayer:
    """One conv or linear layer of a timm state_dict: its weight key and, if any, bias and
    batch-norm key prefix."""

    weight: str
    bias: str | None
    bn: str | None


def timm_layers(state_dict: dict[str, torch.Tensor]) -> list[TimmLayer]:
    """The conv and linear layers of a timm state_dict, in registration order. A ConvNormAct
    holds `<m>.conv.weight` and `<m>.bn.*`; a plain conv or linear holds `<m>.weight` (and bias)."""
    found = []
    for key, tensor in state_dict.items():
        if not key.endswith(".weight") or tensor.dim() not in (2, 4) or ".bn." in key:
            continue
        module = key[: -len(".weight")]
        bias = f"{module}.bias" if f"{module}.bias" in state_dict else None
        bn = None
        if module.endswith(".conv") and f"{module[: -len('.conv')]}.bn.running_mean" in state_dict:
            bn = f"{module[: -len('.conv')]}.bn"
        found.append(TimmLayer(key, bias, bn))
    return found


def _pairs(layer: TimmLayer, module: Any) -> list[tuple[str, torch.Tensor]]:
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


def load_timm(model: Network, state_dict: dict[str, torch.Tensor]) -> None:
    theirs = timm_layers(state_dict)
    ours = list(model.node_modules.items())
    if len(theirs) != len(ours):
        raise ValueError(
            f"the timm state_dict has {len(theirs)} conv/linear layers but '{model.spec.name}' has {len(ours)}; "
            "is it the state_dict of the matching model?"
        )
    used: set[str] = set()
    with torch.no_grad():
        for layer, (node, module) in zip(theirs, ours, strict=True):
            for key, target in _pairs(layer, module):
                source = state_dict[key]
                if tuple(source.shape) != tuple(target.shape):
                    raise ValueError(
                        f"timm tensor '{key}' has shape {tuple(source.shape)} but node '{node}' needs "
                        f"{tuple(target.shape)}"
                    )
                target.copy_(source)
                used.add(key)
    left = [k for k in state_dict if k not in used and not k.endswith("num_batches_tracked")]
    if left:
        raise ValueError(f"timm tensor '{left[0]}' has no place in '{model.spec.name}' ({len(left)} left over)")
