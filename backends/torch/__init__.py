"""The PyTorch backend: a live nn.Module from a spec, framework-neutral weights, reference weights.

    model = archspec.backends.torch.build(archspec.load("specs/inception_v4.yaml"))
    weights = archspec.backends.torch.get_weights(model)        # {"stem/conv2d_1a/kernel": array, ...}
    archspec.backends.torch.set_weights(other_model, weights)

`live` is the model (the source `codegen` writes, run), `weights` its neutral weights, `reference`
the weights of timm's and torchvision's models, `layers` the helpers the written file holds,
`export` its files for other runtimes; `inference` and `regional` lower it for speed.
"""

from __future__ import annotations

from archspec.backends.torch.live import Network, build
from archspec.backends.torch.reference import load_reference_weights
from archspec.backends.torch.weights import get_weights, set_weights

__all__ = ["Network", "build", "get_weights", "load_reference_weights", "set_weights"]
