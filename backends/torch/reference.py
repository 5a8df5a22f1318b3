"""Map a timm or torchvision state_dict onto a model built from the matching bundled spec.

timm's Inception models register their layers in the order in which TF-slim builds and
concatenates them, and torchvision's networks in the order they compute; the bundled specs write
their nodes in the same order, so the reference's modules that hold tensors (convs and linears,
batch norms, layer and group norms, layer scales) are taken by our weighted nodes one after
another, each node the kinds it needs. Every tensor is checked for shape, and the first that does
not fit is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from archspec.backends.torch.codegen import tensors
from archspec.backends.torch.live import Network

from archspec.spec import Spec


@dataclass(frozen=True)
class ReferenceModule:
    """One module of a reference state_dict that holds tensors: its key prefix, its tensors by leaf
    name, and what it is: `layer` (a conv or linear weight of 4 or 2 dimensions, and its bias),
    `batch_norm` (running statistics, with weight and bias where affine), `norm` (a layer or group
    norm's weight and bias) or `parameter` (a lone tensor, such as ConvNeXt's layer scale)."""

    prefix: str
    keys: dict[str, str]  # leaf name -> full key
    kind: str


def _post_order(keys: list[str]) -> list[str]:
    """The keys with each module's own tensors after its submodules' (PyTorch registers a module's
    own parameters first): ConvNeXt's block holds its layer scale beside the layers it scales, and
    applies it after them. Modules with tensors only (every conv, linear and norm) keep their order."""
    tree: dict[str, Any] = {}
    for key in keys:
        node = tree
        for part in key.split(".")[:-1]:
            node = node.setdefault(part, {})
        node.setdefault("", []).append(key)

    def walk(node: dict[str, Any]) -> list[str]:
        below = [k for name, child in node.items() if name for k in walk(child)]
        own: list[str] = node.get("", [])
        return below + own

    return walk(tree)


def reference_modules(state_dict: dict[str, torch.Tensor]) -> list[ReferenceModule]:
    """The modules of a reference state_dict that hold tensors, in the order they compute
    (registration order, each module's own tensors after its submodules')."""
    grouped: dict[str, dict[str, str]] = {}
    for key in _post_order([k for k in state_dict if not k.endswith("num_batches_tracked")]):
        prefix, _, leaf = key.rpartition(".")
        grouped.setdefault(prefix, {})[leaf] = key
    found = []
    for prefix, keys in grouped.items():
        weight = state_dict[keys["weight"]] if "weight" in keys else None
        if "running_mean" in keys:
            found.append(ReferenceModule(prefix, keys, "batch_norm"))
        elif weight is not None and weight.dim() in (2, 4):
            found.append(ReferenceModule(prefix, keys, "layer"))
        elif weight is not None and set(keys) <= {"weight", "bias"}:
            found.append(ReferenceModule(prefix, keys, "norm"))
        else:  # lone tensors, each a module of its own
            found.extend(ReferenceModule(prefix, {"": key}, "parameter") for key in keys.values())
    return found


# A batch norm's tensors by neutral role, and the module kind each weighted op without a kernel takes.
BATCH_NORM_LEAVES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
NORM_LEAVES = {"gamma": "weight", "beta": "bias"}
MODULE_KINDS = {"batch_norm": "batch_norm", "layer_norm": "norm", "group_norm": "norm", "layer_scale": "parameter"}


def _sources(op: str, roles: list[str]) -> list[tuple[str, dict[str, str]]]:
    """The reference modules a node of `op` with these roles takes, in order, each with the leaf
    that holds each role: a conv or dense takes its layer and, with a batch norm, the batch norm
    after it; a batch norm, a norm or a layer scale takes one module of its kind."""
    if "kernel" in roles:
        layer = {"kernel": "weight", **({"bias": "bias"} if "bias" in roles else {})}
        norm = {role: BATCH_NORM_LEAVES[role] for role in roles if role not in layer}
        return [("layer", layer)] + ([("batch_norm", norm)] if norm else [])
    kind = MODULE_KINDS.get(op, "parameter")
    if kind == "batch_norm":
        return [(kind, {role: BATCH_NORM_LEAVES[role] for role in roles})]
    if kind == "norm":
        return [(kind, {role: NORM_LEAVES[role] for role in roles})]
    return [(kind, {role: "" for role in roles})]


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


def _fitted(given: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A reference tensor in our layout where the two differ only in how they broadcast: a
    per-channel tensor kept as (C, 1, 1) (a layer scale) as (C,), and a linear layer applied to
    channels-last maps (ConvNeXt's pointwise layers), (out, in), as the 1x1 conv it is."""
    if target.dim() == 1 and given.dim() > 1 and given.shape[0] == given.numel() == target.numel():
        return given.reshape(-1)
    if given.dim() == 2 and target.dim() == 4 and tuple(target.shape[2:]) == (1, 1):
        return given[:, :, None, None]
    return given


def load_in_order(model: Network, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Load the reference's modules into the model's weighted nodes, both in the order they compute:
    each node takes the next module of the kind it needs (a conv or dense its layer and, with a batch
    norm, the batch norm after it). Every weight of the model is assigned exactly once, from a
    tensor of its shape, and every tensor of the state_dict is used: anything missing, out of place
    or left over is a ValueError that names it."""
    theirs = reference_modules(state_dict)
    targets = {
        node: tensors(module, model.spec.node(node), model.spec.shapes[model.spec.node(node).inputs[0]][-1])
        for node, module in model.node_modules.items()
    }
    layers = sum(module.kind == "layer" for module in theirs)
    kernels = sum("kernel" in mine for mine in targets.values())
    if layers != kernels:  # another network's weights: say so before pairing any
        raise ValueError(
            f"the {source} state_dict has {layers} conv/linear layers but '{model.spec.name}' has {kernels}; "
            "is it the state_dict of the matching model?"
        )
    position = 0
    used: set[str] = set()
    with torch.no_grad():
        for node, mine in targets.items():
            spec_node = model.spec.node(node)
            flattened = flattened_map(model.spec, node) if spec_node.op == "dense" else None
            for kind, leaves in _sources(spec_node.op, list(mine)):
                if position == len(theirs):
                    raise ValueError(
                        f"node '{node}' needs a {kind.replace('_', ' ')} after the last module of the {source} "
                        "state_dict; is it the state_dict of the matching model?"
                    )
                found = theirs[position]
                position += 1
                if found.kind != kind:
                    raise ValueError(
                        f"node '{node}' needs a {kind.replace('_', ' ')} where the {source} state_dict has "
                        f"'{found.prefix}', a {found.kind.replace('_', ' ')}; is it the matching model's?"
                    )
                for role, leaf in leaves.items():
                    key = found.keys.get(leaf)
                    target = mine[role]
                    if key is None:
                        raise ValueError(
                            f"node '{node}' needs its {role} {tuple(target.shape)}, which the {source} layer "
                            f"'{found.prefix}' lacks"
                        )
                    given = _in_our_order(state_dict[key], flattened) if role == "kernel" else state_dict[key]
                    given = _fitted(given, target)
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
    torchvision's googlenet, inception_v3, resnet50, densenet121 or mobilenet_v3_large
    (`source="torchvision"`), or any spec whose weighted nodes come in the order the reference
    registers its modules (`load_in_order`); every tensor is checked for shape."""
    if source not in ("timm", "torchvision"):
        raise ValueError(f"unknown reference source '{source}'; the torch backend knows 'timm' and 'torchvision'")
    load_in_order(model, state_dict, source)
