"""The TensorFlow formats of `archspec export`: a SavedModel directory whose `serve` signature
takes `input` and returns the outputs by name, and a Keras archive (.keras). Keras's functional
models take any batch, so both are dynamic in the batch whether asked or not; the check runs
the batch sizes asked for."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from archspec.backends.tensorflow import build, set_weights

from archspec.deploy.request import Request, Writer, output_names, outputs_list

Runs = list[tuple[list[np.ndarray], list[np.ndarray]]]


def _live(request: Request) -> keras.Model:
    model = build(request.spec)
    if request.weights is not None:
        set_weights(model, request.weights, spec=request.spec)
    return model


def _live_outputs(model: keras.Model, inputs: list[np.ndarray]) -> list[list[np.ndarray]]:
    return [outputs_list(model(x, training=False)) for x in inputs]


def write_savedmodel(request: Request, path: Path) -> Runs:
    model = _live(request)
    names = output_names(request.spec)
    height, width, channels = request.spec.input_shape
    batch = None if request.dynamic_batch else 1
    signature = tf.TensorSpec((batch, height, width, channels), tf.float32, name="input")

    def serve(x: tf.Tensor) -> dict[str, tf.Tensor]:
        return dict(zip(names, outputs_list_tf(model(x, training=False)), strict=True))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=serve, input_signature=[signature])
    with contextlib.redirect_stdout(io.StringIO()):
        archive.write_out(str(path), verbose=False)
    loaded = tf.saved_model.load(str(path))
    inputs = request.inputs(channels_last=True)
    back = []
    for x in inputs:
        found = loaded.serve(tf.constant(x))
        back.append([np.asarray(found[name]) for name in names])
    return list(zip(_live_outputs(model, inputs), back, strict=True))


def outputs_list_tf(value: object) -> list[tf.Tensor]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def write_keras(request: Request, path: Path) -> Runs:
    model = _live(request)
    model.save(str(path))
    loaded = keras.models.load_model(str(path))
    inputs = request.inputs(channels_last=True)
    back = [outputs_list(loaded(x, training=False)) for x in inputs]
    return list(zip(_live_outputs(model, inputs), back, strict=True))


WRITERS: dict[str, Writer] = {"savedmodel": write_savedmodel, "keras": write_keras}
