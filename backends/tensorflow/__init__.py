"""The TensorFlow backend: a Keras 3 functional model from a spec, framework-neutral weights,
Keras reference weights.

    model = archspec.backends.tensorflow.build(archspec.load("specs/inception_v4.yaml"))   # a keras.Model
    weights = archspec.backends.tensorflow.get_weights(model)        # {"stem/conv2d_1a/kernel": array, ...}
    archspec.backends.tensorflow.set_weights(model, archspec.backends.torch.get_weights(torch_model))

`live` is the model (the source `codegen` writes, run), `weights` its neutral weights, `reference`
the weights of Keras Applications' models, `layers` the helpers the written file holds, `export`
its files for other runtimes. Keras runs on TensorFlow here: `startup` chooses the backend before
Keras is first imported, unless KERAS_BACKEND says otherwise, and keeps TensorFlow's start-up log
lines out of standard error.
"""

from __future__ import annotations

# First, before anything imports Keras: Keras's backend is chosen and TensorFlow imported quietly.
from archspec.backends.tensorflow import startup  # noqa: F401
from archspec.backends.tensorflow.codegen import layer_name
from archspec.backends.tensorflow.live import build, spec_of
from archspec.backends.tensorflow.reference import load_reference_weights
from archspec.backends.tensorflow.weights import get_weights, set_weights, weight_paths

__all__ = ["build", "get_weights", "layer_name", "load_reference_weights", "set_weights", "spec_of", "weight_paths"]
