"""Evaluation on Keras models, as `archspec.training.torch.evaluate` does it: softmax scores averaged over
the crops of `archspec.training.data.multi_crop_boxes` and over the models of an ensemble."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from archspec.backends import tensorflow as btf
from archspec.frontend.preprocess import Preprocess
from archspec.spec import Spec
from archspec.training import data
from archspec.training.log import progress
from archspec.training.metrics import EMPTY, Totals, totals

EVAL_BATCH = 64  # crops per forward pass


def predictor(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A compiled inference function: NHWC images to the classifier's softmax scores."""
    import tensorflow as tf

    def scores(images: Any) -> Any:
        outputs = model(images, training=False)
        logits = outputs[0] if isinstance(outputs, list | tuple) else outputs
        return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)

    compiled = tf.function(scores, reduce_retracing=True)
    return lambda images: np.asarray(compiled(images))


def evaluate(
    predictors: Sequence[Callable[[np.ndarray], np.ndarray]],
    images: data.ImageSet,
    size: tuple[int, int],
    channels: int,
    crops: int = 1,
    indices: Sequence[int] | None = None,
    bar: Any = None,
    preprocess: Preprocess | None = None,
) -> Totals:
    chosen = list(range(len(images)) if indices is None else indices)
    per_batch = max(1, EVAL_BATCH // crops)
    result = EMPTY
    for start in range(0, len(chosen), per_batch):
        part = chosen[start : start + per_batch]
        batch = np.stack([data.eval_crops(images, i, size, channels, crops, preprocess) for i in part])
        flat = batch.reshape(-1, *batch.shape[2:])
        probs = sum(p(flat).reshape(len(part), crops, -1).mean(1) for p in predictors) / len(predictors)
        result = result + totals(np.asarray(probs), np.array([images.label(i) for i in part]))
        if bar is not None:
            bar.update(len(part))
    return result


def evaluate_weights(
    spec: Spec, members: Sequence[dict[str, np.ndarray]], images: data.ImageSet, crops: int = 1, workers: int = 0
) -> dict[str, float]:
    """`archspec eval --backend tf`: top-1 and top-5 error of neutral weights or an ensemble.
    `workers` is the torch backend's data-loading processes; Keras reads the arrays in memory."""
    predictors = []
    for weights in members:
        model = btf.build(spec)
        btf.set_weights(model, weights)
        predictors.append(predictor(model))
    height, width, channels = spec.input_shape
    bar = progress(len(images), f"eval, {crops} crop{'s' if crops > 1 else ''}")
    try:
        result = evaluate(predictors, images, (height, width), channels, crops, bar=bar, preprocess=spec.preprocess)
    finally:
        bar.close()
    return {**result.errors(), **result.metrics()}
