"""The exponential moving average of a model's weights, the weights the Inception papers evaluate.

The average covers every floating-point tensor of the model's state: parameters and batch-norm
running statistics. It lives in a second model built from the same spec, always in eval mode, and
is given the model's state: a fresh build rather than a deep copy, so that it never shares a
compiled block (`compile_blocks` compiles in place) with the model being trained. Its parameters
keep requires_grad (it is only ever updated under no_grad): `get_weights` leaves out the gamma
and beta of batch norms whose parameters do not require gradients, taking them for the spec's
fixed `scale: false` ones.
"""

from __future__ import annotations

import torch

from archspec.backends.torch import build
from archspec.backends.torch.live import Network
from archspec.training.torch.distributed import Cluster


def _float_tensors(model: Network) -> list[torch.Tensor]:
    return [t for t in model.state_dict().values() if t.is_floating_point()]


class Ema:
    def __init__(self, model: Network, cluster: Cluster) -> None:
        self.model = cluster.place(build(model.spec))
        self.model.load_state_dict(model.state_dict())
        self.model.eval()
        self._averages = _float_tensors(self.model)

    @torch.no_grad()
    def update(self, model: Network, decay: float) -> None:
        """average = decay * average + (1 - decay) * current, for every tensor."""
        torch._foreach_lerp_(self._averages, _float_tensors(model), 1.0 - decay)

    def tensors(self) -> list[torch.Tensor]:
        return self._averages
