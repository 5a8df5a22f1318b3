"""A PyTorch training state to and from the neutral checkpoint files of `archspec.training.checkpoint`.

The model and its moving average are stored as neutral weights (so `archspec eval`, and the
TensorFlow backend, read them like any weight file). The optimizer's per-parameter state tensors
are stored under `<parameter name>/<slot>` (`stem.conv2d_1a.conv.weight/square_avg`); its
hyperparameters and any non-tensor slots go into state.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from archspec.backends.torch import get_weights, set_weights
from archspec.backends.torch.live import Network
from archspec.training.checkpoint import CheckpointError
from archspec.training.torch.ema import Ema


def _ordered_parameters(optimizer: torch.optim.Optimizer) -> list[torch.nn.Parameter]:
    """The parameters in the order optimizer.state_dict() numbers them."""
    return [p for group in optimizer.param_groups for p in group["params"]]


def optimizer_state(optimizer: torch.optim.Optimizer, model: Network) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The optimizer's state tensors under string keys, and the rest as JSON."""
    names = {id(p): name for name, p in model.named_parameters()}
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for parameter in _ordered_parameters(optimizer):
        for slot, value in optimizer.state.get(parameter, {}).items():
            key = f"{names[id(parameter)]}/{slot}"
            if isinstance(value, torch.Tensor):
                arrays[key] = value.detach().cpu().numpy()
            else:
                scalars[key] = value
    groups = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
    return arrays, {"param_groups": groups, "scalars": scalars}


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, model: Network, arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> None:
    """Restore what `optimizer_state` saved into an optimizer built the same way."""
    names = {id(p): name for name, p in model.named_parameters()}
    index = {names[id(p)]: i for i, p in enumerate(_ordered_parameters(optimizer))}
    state: dict[int, dict[str, Any]] = {}
    for key, array in arrays.items():
        name, slot = key.rsplit("/", 1)
        if name not in index:
            raise CheckpointError(f"the optimizer state names parameter '{name}', which the model does not have")
        state.setdefault(index[name], {})[slot] = torch.from_numpy(np.array(array))
    for key, value in meta.get("scalars", {}).items():
        name, slot = key.rsplit("/", 1)
        state.setdefault(index[name], {})[slot] = value
    fresh = optimizer.state_dict()["param_groups"]
    if len(fresh) != len(meta["param_groups"]):
        raise CheckpointError("the optimizer state has a different number of parameter groups")
    groups = [{**saved, "params": group["params"]} for saved, group in zip(meta["param_groups"], fresh, strict=True)]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def capture(
    model: Network, ema: Ema, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """The checkpoint's three weight files, and the optimizer's JSON part."""
    arrays, meta = optimizer_state(optimizer, model)
    tensors = {
        "model.safetensors": get_weights(model),
        "ema.safetensors": get_weights(ema.model),
        "optimizer.safetensors": arrays,
    }
    return tensors, meta


def restore(
    model: Network,
    ema: Ema,
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, dict[str, np.ndarray]],
    optimizer_meta: dict[str, Any],
) -> None:
    try:
        set_weights(model, tensors["model.safetensors"])
        set_weights(ema.model, tensors["ema.safetensors"])
    except ValueError as exc:
        raise CheckpointError(f"the checkpoint's weights do not fit the model: {exc}") from None
    load_optimizer_state(optimizer, model, tensors["optimizer.safetensors"], optimizer_meta)
