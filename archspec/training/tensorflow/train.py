"""`archspec train --backend tf`: the recipe, data, checkpoints and logs of the PyTorch trainer,
on a Keras model from `archspec.backends.tensorflow.build`, replicated over the local GPUs (or the CPU) by
`tf.distribute.MirroredStrategy`.

Each step splits a global batch of `batch_size` images per replica among the replicas, sums their
gradients, clips the sum's global norm, adds weight decay and applies RMSProp (Keras's, which
puts epsilon inside the square root as the paper's TensorFlow did). The moving average lives in
a second model that validation runs. The data order is `archspec.training.data.epoch_order`; a checkpoint
keeps the Keras variables the neutral weights do not (the optimizer's slots, dropout's seed
state), so that a resumed run continues as the uninterrupted one would.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

# Keras's backend is already TensorFlow: this package imported `archspec.backends.tensorflow`, which chose it.
import keras
import numpy as np
import tensorflow as tf

from archspec.backends import tensorflow as btf
from archspec.spec import Spec
from archspec.training import checkpoint as ckpt
from archspec.training import data
from archspec.training.log import StepProgress, TrainingLog
from archspec.training.metrics import Totals
from archspec.training.recipe import ADAM_BETAS, ADAM_EPSILON, Recipe, Run, ema_decay, step_rate
from archspec.training.runs import (
    Options,
    Outcome,
    Position,
    StopSignals,
    TrainingError,
    available_bytes,
    begin,
    describe,
    epoch_row,
    read_for_resume,
)
from archspec.training.tensorflow.evaluate import evaluate, predictor


def _one_hot_targets(labels: Any, classes: int, smoothing: float) -> Any:
    """Label smoothing as PyTorch defines it: (1 - e) one-hot + e / classes."""
    return tf.one_hot(labels, classes) * (1.0 - smoothing) + smoothing / classes


def make_optimizer(recipe: Recipe) -> keras.optimizers.Optimizer:
    """The recipe's optimizer. Weight decay is applied in the step, on kernels only, for each."""
    rate = recipe.learning_rate
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=rate, momentum=recipe.momentum)
    if recipe.optimizer == "adamw":  # Adam, with AdamW's decoupled decay applied in the step
        beta_1, beta_2 = ADAM_BETAS
        return keras.optimizers.Adam(learning_rate=rate, beta_1=beta_1, beta_2=beta_2, epsilon=ADAM_EPSILON)
    return keras.optimizers.RMSprop(
        learning_rate=rate, rho=recipe.rmsprop_decay, momentum=recipe.momentum, epsilon=recipe.rmsprop_epsilon
    )


class Trainer:
    def __init__(self, spec: Spec, run: Run, options: Options) -> None:
        if options.compile or options.amp:
            raise TrainingError("--compile and --amp are options of the torch backend")
        self.spec, self.run, self.options, self.recipe = spec, run, options, run.recipe
        self.classes = spec.output_shape[-1]
        if any(len(spec.shapes[o]) != 1 or spec.shapes[o][0] != self.classes for o in spec.outputs):
            raise TrainingError(f"'{spec.name}' must end in class scores: every output a vector of {self.classes}")
        self.train_set = data.subset(data.load(run.data, "train"), run.limit)
        self.val_set = data.subset(data.load(run.data, "val"), run.limit)
        data.check_classes(self.train_set, self.classes, run.data)
        data.check_classes(self.val_set, self.classes, run.data)
        self.strategy = tf.distribute.MirroredStrategy()
        self.replicas = self.strategy.num_replicas_in_sync
        self.global_batch = run.batch_size * self.replicas
        self.steps = data.steps_per_epoch(len(self.train_set), self.global_batch)
        if self.steps == 0:
            raise TrainingError(
                f"the training set has {len(self.train_set)} images, fewer than one batch of {run.batch_size} "
                f"for each of {self.replicas} replicas"
            )
        self.channels = spec.input_shape[2]
        self.augment = data.augment_for(self.recipe.augment)

        keras.utils.set_random_seed(run.seed)  # the initial weights and dropout's seeds
        with self.strategy.scope():
            self.model = btf.build(spec)
            self.ema_model = btf.build(spec)
            self.optimizer = make_optimizer(self.recipe)
            self.optimizer.build(self.model.trainable_variables)
        # The moving average covers every weight, batch-norm statistics included.
        ema_by_path = {v.path: v for v in self.ema_model.weights}
        self.averaged = [(ema_by_path[v.path], v) for v in self.model.weights]
        for average, current in self.averaged:
            average.assign(current)
        self.decayed = [len(v.shape) > 1 for v in self.model.trainable_variables]  # conv and dense kernels
        self._step_fn = tf.function(self._step, reduce_retracing=True)
        self._validation_scores = predictor(self.ema_model)
        self.position = Position()
        self.history: list[dict[str, float]] = []

    # --- one step --------------------------------------------------------------------------------

    def _replica_step(self, images: Any, labels: Any) -> tuple[list[Any], Any, Any]:
        with tf.GradientTape() as tape:
            outputs = self.model(images, training=True)
            heads = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
            targets = _one_hot_targets(labels, self.classes, self.recipe.label_smoothing)
            per_image = tf.nn.softmax_cross_entropy_with_logits(targets, tf.cast(heads[0], tf.float32))
            for aux in heads[1:]:
                per_image += self.recipe.aux_weight * tf.nn.softmax_cross_entropy_with_logits(
                    targets, tf.cast(aux, tf.float32)
                )
            loss = tf.reduce_sum(per_image) / self.global_batch  # so that the replicas' sum is the mean
        grads = tape.gradient(loss, self.model.trainable_variables)
        hits = tf.equal(tf.argmax(heads[0], axis=1, output_type=tf.int32), tf.cast(labels, tf.int32))
        return grads, tf.reduce_sum(per_image), tf.reduce_sum(tf.cast(hits, tf.int32))

    def _step(self, images: Any, labels: Any, decay: Any) -> tuple[Any, Any]:
        grads, loss_sum, correct = self.strategy.run(self._replica_step, args=(images, labels))
        summed = [self.strategy.reduce("SUM", g, axis=None) for g in grads]
        clipped, _ = tf.clip_by_global_norm(summed, self.recipe.clip_norm)
        variables = self.model.trainable_variables
        wd = self.recipe.weight_decay
        if self.recipe.optimizer == "adamw":  # decoupled, as torch's AdamW: w <- w (1 - rate x decay) first
            shrink = 1.0 - tf.cast(self.optimizer.learning_rate, tf.float32) * wd
            for v, decayed in zip(variables, self.decayed, strict=True):
                if decayed:
                    v.assign(v * shrink)
            updates = clipped
        else:
            updates = [g + wd * v if d else g for g, v, d in zip(clipped, variables, self.decayed, strict=True)]
        self.optimizer.apply(updates, variables)
        for average, current in self.averaged:
            average.assign(decay * average + (1.0 - decay) * current)
        return self.strategy.reduce("SUM", loss_sum, axis=None), self.strategy.reduce("SUM", correct, axis=None)

    def _distribute(self, array: np.ndarray) -> Any:
        per = self.run.batch_size
        return self.strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(array[context.replica_id_in_sync_group * per :][:per])
        )

    # --- checkpoints -----------------------------------------------------------------------------

    def _extra_variables(self) -> dict[str, Any]:
        """Keras variables outside the neutral weights: the optimizer's, and dropout's seed state."""
        neutral_paths = set(btf.weight_paths(self.spec).values())
        found = {f"optimizer/{i:04d}/{v.path}": v for i, v in enumerate(self.optimizer.variables)}
        found.update(
            {f"model/{i:04d}/{v.path}": v for i, v in enumerate(self.model.variables) if v.path not in neutral_paths}
        )
        return found

    def save(self, interrupted: bool) -> Path:
        p = self.position
        state = {
            "backend": "tf",
            "spec": ckpt.spec_record(self.spec),
            "run": self.run.to_json(),
            "position": {
                "epoch": p.epoch,
                "batch": p.batch,
                "step": p.step,
                "steps_per_epoch": self.steps,
                "world_size": self.replicas,
            },
            "learning_rate": self._rate(),
            "ema_decay": ema_decay(self.recipe, p.step),
            "data_order": {
                "order": "archspec.training.data.epoch_order(count, seed, epoch)",
                "seed": self.run.seed,
                "epoch": p.epoch,
                "images_done": p.batch * self.global_batch,
            },
            "rng": {
                "scheme": "crops from (seed, epoch, image); dropout's Keras seed state is saved",
                "seed": self.run.seed,
            },
            "running": p.running(),
            "interrupted": interrupted,
            "history": self.history,
        }
        tensors = {
            "model.safetensors": btf.get_weights(self.model),
            "ema.safetensors": btf.get_weights(self.ema_model),
            # Under a strategy a scalar variable can read back as shape (1,): store the declared shape.
            "optimizer.safetensors": {
                k: np.reshape(np.asarray(v.numpy()), tuple(v.shape)) for k, v in self._extra_variables().items()
            },
        }
        return ckpt.write(self.options.out, tensors, state)

    def resume(self) -> None:
        path, tensors, state = read_for_resume(self.options.out, self.spec, "tf", self.run, self.replicas)
        try:
            btf.set_weights(self.model, tensors["model.safetensors"])
            btf.set_weights(self.ema_model, tensors["ema.safetensors"])
        except ValueError as exc:
            raise ckpt.CheckpointError(f"the checkpoint's weights do not fit the model: {exc}") from None
        extra, saved_extra = self._extra_variables(), tensors["optimizer.safetensors"]
        misfits = [k for k, v in extra.items() if k not in saved_extra or saved_extra[k].size != np.prod(v.shape)]
        if misfits or len(extra) != len(saved_extra):
            raise ckpt.CheckpointError(f"{path}: its optimizer state does not fit this model's optimizer")
        for key, variable in extra.items():
            variable.assign(np.reshape(saved_extra[key], tuple(variable.shape)))
        self.position = Position.from_state(state)
        self.history = list(state["history"])

    # --- the loop --------------------------------------------------------------------------------

    def _rate(self) -> float:
        p = self.position
        return step_rate(self.recipe, p.epoch, p.batch, self.steps, self.run.epochs)

    def _progress(self) -> StepProgress:
        p = self.position
        options = self.options
        return StepProgress(self.steps, p.batch, p.epoch, self.run.epochs, options.log_every, options.progress)

    def _batch(self, indices: np.ndarray, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        examples = [
            data.train_example(
                self.train_set,
                int(i),
                epoch,
                self.run.seed,
                self.run.input_size,
                self.channels,
                self.augment,
                self.spec.preprocess,
            )
            for i in indices
        ]
        return np.stack([x for x, _ in examples]), np.array([y for _, y in examples], dtype=np.int32)

    def _train_epoch(self, stop: StopSignals) -> bool:
        p = self.position
        order = data.epoch_order(len(self.train_set), self.run.seed, p.epoch)
        started = time.perf_counter()
        with self._progress() as bar:
            while p.batch < self.steps:
                lr = self._rate()
                self.optimizer.learning_rate = lr
                images, labels = self._batch(order[p.batch * self.global_batch :][: self.global_batch], p.epoch)
                decay = tf.constant(ema_decay(self.recipe, p.step + 1), tf.float32)
                loss_sum, correct = self._step_fn(self._distribute(images), self._distribute(labels), decay)
                p.step, p.batch = p.step + 1, p.batch + 1
                p.loss_sum += float(loss_sum)
                p.correct += int(correct)
                p.seen += len(labels)
                bar.step(float(loss_sum) / len(labels), lr, len(labels))
                if stop.received is not None:
                    p.seconds += time.perf_counter() - started
                    return False
                every = self.options.checkpoint_every
                if every and p.step % every == 0 and p.batch < self.steps:
                    self.save(interrupted=False)
        p.seconds += time.perf_counter() - started
        return True

    def _validate(self) -> Totals:
        return evaluate(
            [self._validation_scores], self.val_set, self.run.input_size, self.channels, preprocess=self.spec.preprocess
        )

    def fit(self) -> Outcome:
        if self.options.resume:
            self.resume()
        log = TrainingLog(self.options.out, self.spec.name, self.history)
        try:
            with StopSignals() as stop:
                while self.position.epoch < self.run.epochs:
                    if not self._train_epoch(stop):
                        return Outcome(self.history, self.save(interrupted=True), stop.received)
                    p = self.position
                    sums = [p.loss_sum, p.correct, p.seen]
                    val = self._validate().metrics()
                    last_rate = step_rate(self.recipe, p.epoch, self.steps - 1, self.steps, self.run.epochs)
                    row = epoch_row(p, sums, val, last_rate, p.seconds)
                    self.history.append(row)
                    self.position = Position(p.epoch + 1, 0, p.step)
                    path = self.save(interrupted=False)
                    log.epoch(self.history)
                    print(describe(row, self.run.epochs), flush=True)
                    if stop.received is not None:
                        return Outcome(self.history, path, stop.received)
        finally:
            log.close()
        return Outcome(self.history, ckpt.locate(self.options.out), None)


def train(spec: Spec, run: Run, options: Options) -> Outcome:
    """Train `spec` on Keras as `run` says, writing logs and checkpoints under `options.out`."""
    options = begin(spec, run, options, available_bytes())
    tf.config.experimental.enable_op_determinism()  # a resumed run must compute what the whole one did
    return Trainer(spec, run, options).fit()
