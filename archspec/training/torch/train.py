"""`archspec train` on PyTorch: the recipe of `archspec.training.recipe`, checkpoints that resume exactly,
and several processes under `torchrun` (DistributedDataParallel, DistributedSampler).

A run is exactly reproducible on one machine: the data order is a function of (seed, epoch), a
crop of (seed, epoch, image), the dropout masks of (seed, step, rank), and a checkpoint holds
everything else (weights, moving average, optimizer slots, position in the epoch, the metric
sums of the epoch so far). SIGINT and SIGTERM finish the current step, write a checkpoint and
return; `resume=True` continues from it as if nothing had happened.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from archspec.backends.torch import build
from archspec.backends.torch.live import Network
from archspec.backends.torch.regional import compile_blocks
from archspec.spec import Spec
from archspec.training import checkpoint as ckpt
from archspec.training import data
from archspec.training.log import StepProgress, TrainingLog
from archspec.training.metrics import Totals
from archspec.training.recipe import ADAM_BETAS, ADAM_EPSILON, Recipe, Run, ema_decay, step_rate, step_seed
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
from archspec.training.torch.checkpoint import capture, restore
from archspec.training.torch.distributed import Cluster
from archspec.training.torch.ema import Ema
from archspec.training.torch.evaluate import evaluate, main_output
from archspec.training.torch.loader import TrainImages, epoch_order, train_loader

AMP = {"bf16": torch.bfloat16}


@contextmanager
def deterministic_cpu(device: torch.device) -> Iterator[None]:
    """Deterministic kernels on the CPU, and denormals flushed to zero: a tiny network's weights
    and moving averages decay into denormals, which make CPU arithmetic many times slower."""
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.set_flush_denormal(False)


def make_optimizer(model: Network, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer, weight decay on conv and dense kernels only, as TF-slim's
    regularisers: added to the gradient for SGD and RMSProp, decoupled for AdamW. RMSProp is set
    as the paper sets it (PyTorch adds epsilon outside the square root, TensorFlow inside; with
    epsilon 1.0 both start as plain momentum SGD and differ little)."""
    kernels = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    others = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": kernels, "weight_decay": recipe.weight_decay}, {"params": others, "weight_decay": 0.0}]
    rate = recipe.learning_rate
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=rate, momentum=recipe.momentum)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=rate, betas=ADAM_BETAS, eps=ADAM_EPSILON)
    return torch.optim.RMSprop(
        groups, lr=rate, alpha=recipe.rmsprop_decay, eps=recipe.rmsprop_epsilon, momentum=recipe.momentum
    )


def loss_of(outputs: torch.Tensor | tuple[torch.Tensor, ...], labels: torch.Tensor, recipe: Recipe) -> torch.Tensor:
    """Cross-entropy of the classifier, plus `aux_weight` times that of each auxiliary head."""
    heads = outputs if isinstance(outputs, tuple) else (outputs,)
    loss = F.cross_entropy(heads[0].float(), labels, label_smoothing=recipe.label_smoothing)
    for aux in heads[1:]:
        loss = loss + recipe.aux_weight * F.cross_entropy(aux.float(), labels, label_smoothing=recipe.label_smoothing)
    return loss


class Trainer:
    def __init__(self, spec: Spec, run: Run, options: Options, cluster: Cluster) -> None:
        self.spec, self.run, self.options, self.cluster = spec, run, options, cluster
        self.recipe = run.recipe
        self.channels = spec.input_shape[2]
        self.device = cluster.device
        classes = spec.output_shape[-1]
        if any(len(spec.shapes[o]) != 1 or spec.shapes[o][0] != classes for o in spec.outputs):
            raise TrainingError(f"'{spec.name}' must end in class scores: every output a vector of {classes}")
        self.train_set = data.subset(data.load(run.data, "train"), run.limit)
        self.val_set = data.subset(data.load(run.data, "val"), run.limit)
        data.check_classes(self.train_set, classes, run.data)
        data.check_classes(self.val_set, classes, run.data)
        self.steps = data.steps_per_epoch(len(self.train_set), run.batch_size, cluster.world)
        if self.steps == 0:
            raise TrainingError(
                f"the training set has {len(self.train_set)} images, fewer than one batch of {run.batch_size} "
                f"for each of {cluster.world} processes"
            )
        self.preprocess = spec.preprocess
        crop = data.augment_for(run.recipe.augment)
        self.dataset = TrainImages(self.train_set, run.input_size, self.channels, crop, run.seed, self.preprocess)

        torch.manual_seed(run.seed)  # the initial weights
        self.model = cluster.place(build(spec))
        self.ema = Ema(self.model, cluster)
        self.optimizer = make_optimizer(self.model, self.recipe)
        self.position = Position()
        self.history: list[dict[str, float]] = []

    # --- checkpoints ---------------------------------------------------------------------------

    def state(self, running: dict[str, float], interrupted: bool) -> dict[str, Any]:
        p = self.position
        return {
            "backend": "torch",
            "spec": ckpt.spec_record(self.spec),
            "run": self.run.to_json(),
            "position": {
                "epoch": p.epoch,
                "batch": p.batch,
                "step": p.step,
                "steps_per_epoch": self.steps,
                "world_size": self.cluster.world,
            },
            "learning_rate": self._rate(),
            "ema_decay": ema_decay(self.recipe, p.step),
            "data_order": {
                "sampler": "DistributedSampler(shuffle=True, drop_last=True), set_epoch(epoch)",
                "seed": self.run.seed,
                "epoch": p.epoch,
                "images_done": p.batch * self.run.batch_size,
            },
            "rng": {
                "scheme": "torch.manual_seed(step_seed(seed, step, rank)) before every step",
                "seed": self.run.seed,
            },
            "running": running,
            "interrupted": interrupted,
            "history": self.history,
        }

    def save(self, interrupted: bool) -> Path | None:
        """Every process joins (sums, moving average); rank 0 writes."""
        p = self.position
        loss_sum, correct, seen = self.cluster.sum([p.loss_sum, p.correct, p.seen])
        running = {"loss_sum": loss_sum, "correct": correct, "seen": seen, "seconds": p.seconds}
        self.cluster.broadcast(self.ema.tensors())
        path = None
        if self.cluster.main:
            tensors, optimizer_meta = capture(self.model, self.ema, self.optimizer)
            state = {**self.state(running, interrupted), "optimizer": optimizer_meta}
            path = ckpt.write(self.options.out, tensors, state)
        self.cluster.barrier()
        return path

    def resume(self) -> None:
        _, tensors, state = read_for_resume(self.options.out, self.spec, "torch", self.run, self.cluster.world)
        restore(self.model, self.ema, self.optimizer, tensors, state["optimizer"])
        self.position = Position.from_state(state, with_running=self.cluster.main)  # sums are totals: count once
        self.history = list(state["history"])

    # --- the loop --------------------------------------------------------------------------------

    def _forward_module(self) -> torch.nn.Module:
        if self.options.compile == "blocks":
            compile_blocks(self.model)  # in place: the moving average is a model of its own
        module: torch.nn.Module = self.model
        if self.cluster.distributed:
            ids = [self.device] if self.device.type == "cuda" else None
            module = torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
        if self.options.compile == "model":
            module = torch.compile(module)  # type: ignore[assignment]
        return module

    def _step(self, forward: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
        amp = AMP.get(self.options.amp or "")
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
            outputs = forward(images)
        loss = loss_of(outputs, labels, self.recipe)
        torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.clip_norm)
        self.optimizer.step()
        correct = int((main_output(outputs).detach().argmax(1) == labels).sum())
        return float(loss.detach()), correct

    def _validate(self) -> Totals:
        """The moving average on this process's share of the validation set, summed over all."""
        self.cluster.broadcast(self.ema.tensors())
        share = list(range(self.cluster.rank, len(self.val_set), self.cluster.world))
        mine = evaluate(
            [self.ema.model], self.val_set, self.run.input_size, self.channels, self.device, 1, share,
            preprocess=self.preprocess,
        )  # fmt: skip
        return Totals.from_list(self.cluster.sum(mine.as_list()))

    def _rate(self) -> float:
        p = self.position
        return step_rate(self.recipe, p.epoch, p.batch, self.steps, self.run.epochs)

    def _progress(self) -> StepProgress:
        p = self.position
        show = self.options.progress and self.cluster.main
        return StepProgress(self.steps, p.batch, p.epoch, self.run.epochs, self.options.log_every, show)

    def _train_epoch(self, forward: torch.nn.Module, stop: StopSignals) -> bool:
        """Train the rest of the current epoch; False when a signal stopped it."""
        p = self.position
        order = epoch_order(len(self.train_set), self.run.seed, p.epoch, self.cluster.rank, self.cluster.world)
        self.model.train()
        cuda = self.device.type == "cuda"
        loader = train_loader(self.dataset, p.epoch, order, p.batch, self.run.batch_size, self.options.workers, cuda)
        started = time.perf_counter()
        with self._progress() as bar:
            for images, labels in loader:
                lr = self._rate()
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                torch.manual_seed(step_seed(self.run.seed, p.step, self.cluster.rank))
                x = images.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                loss, correct = self._step(forward, x, labels.to(self.device, non_blocking=True))
                self.ema.update(self.model, ema_decay(self.recipe, p.step + 1))
                p.step, p.batch = p.step + 1, p.batch + 1
                p.loss_sum, p.correct, p.seen = (
                    p.loss_sum + loss * len(labels),
                    p.correct + correct,
                    p.seen + len(labels),
                )
                bar.step(loss, lr, len(labels))
                if self.cluster.any(stop.received is not None):
                    p.seconds += time.perf_counter() - started
                    return False
                every = self.options.checkpoint_every
                if every and p.step % every == 0 and p.batch < self.steps:  # the epoch's end saves anyway
                    self.save(interrupted=False)
        p.seconds += time.perf_counter() - started
        return True

    def _finish_epoch(self) -> dict[str, float]:
        p = self.position
        sums = self.cluster.sum([p.loss_sum, p.correct, p.seen])
        last_rate = step_rate(self.recipe, p.epoch, self.steps - 1, self.steps, self.run.epochs)
        row = epoch_row(p, sums, self._validate().metrics(), last_rate, p.seconds)
        self.history.append(row)
        self.position = Position(p.epoch + 1, 0, p.step)
        return row

    def fit(self) -> Outcome:
        if self.options.resume:
            self.resume()
        forward = self._forward_module()
        log = TrainingLog(self.options.out, self.spec.name, self.history) if self.cluster.main else None
        try:
            with StopSignals() as stop, deterministic_cpu(self.device):
                while self.position.epoch < self.run.epochs:
                    if not self._train_epoch(forward, stop):
                        path = self.save(interrupted=True)
                        return Outcome(self.history, path, stop.received or signal.SIGTERM, self.cluster.main)
                    row = self._finish_epoch()
                    path = self.save(interrupted=False)
                    if log is not None:
                        log.epoch(self.history)
                        print(describe(row, self.run.epochs), flush=True)
                    if self.cluster.any(stop.received is not None):  # came during validation: saved already
                        return Outcome(self.history, path, stop.received or signal.SIGTERM, self.cluster.main)
        finally:
            if log is not None:
                log.close()
        return Outcome(self.history, ckpt.locate(self.options.out), None, self.cluster.main)


def train(spec: Spec, run: Run, options: Options, cluster: Cluster | None = None) -> Outcome:
    """Train `spec` as `run` says, writing logs and checkpoints under `options.out`."""
    if options.amp is not None and options.amp not in AMP:
        raise TrainingError(f"unknown --amp {options.amp!r}; known: {', '.join(AMP)}")
    cluster = cluster or Cluster.from_env()
    try:
        available: int | None
        if cluster.device.type == "cuda":
            available, where = torch.cuda.mem_get_info(cluster.device)[0], f"GPU {cluster.device}"
        else:
            available, where = available_bytes(), "this machine"
        options = begin(spec, run, options, available, where, cluster.main, cluster.barrier)
        outcome = Trainer(spec, run, options, cluster).fit()
        # Every process finished (rank 0 writes last) before any tears the group down: a process
        # that leaves while another still uses the group can abort it ("terminate called").
        cluster.barrier()
        return outcome
    finally:
        cluster.close()  # ends the process group if this call started it
