"""The training recipe of the Inception papers and the settings of one run, framework-neutral.

Szegedy et al. 2016 (Inception-v4, Sec. 4): RMSProp with decay 0.9 and epsilon 1.0, learning rate
0.045 decayed every two epochs by an exponential rate of 0.94, and evaluation with a running
average of the parameters. From Inception-v3 (Szegedy et al. 2015, Secs. 7-8): gradient clipping
at 2.0, the auxiliary classifier's loss, label smoothing (0.1 there; off by default here, as in
TF-slim's training script). Momentum 0.9 and weight decay 4e-5 are TF-slim's
(train_image_classifier.py, inception_v4 arg scope), whose moving average also warms up with the
number of updates.

The paper's recipe is the default; a run may choose another optimizer (SGD with momentum, AdamW),
a cosine schedule with a linear warm-up, its weight decay and its augmentation. Whatever it chose
is part of the run's settings, so a checkpoint records it and `--resume` trains on with it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

OPTIMIZERS = ("rmsprop", "sgd", "adamw")
SCHEDULES = ("step", "cosine")
AUGMENTS = ("inception", "light", "flip", "none")
# What an optimizer starts from where the run does not say: AdamW's rate and decoupled decay are
# timm's and the ConvNeXt paper's; SGD and RMSProp keep the paper's numbers.
OPTIMIZER_DEFAULTS: dict[str, dict[str, float]] = {"adamw": {"learning_rate": 1e-3, "weight_decay": 0.05}}
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


@dataclass(frozen=True)
class Recipe:
    optimizer: str = "rmsprop"  # one of OPTIMIZERS
    schedule: str = "step"  # "step": the staircase below; "cosine": from the rate to 0 over the run
    warmup_epochs: int = 0  # the rate rises linearly from 0 over these first epochs
    augment: str = "inception"  # the training crop, one of AUGMENTS (see `archspec.training.data`)
    learning_rate: float = 0.045
    lr_decay: float = 0.94  # multiplied in every `decay_epochs` epochs (a staircase)
    decay_epochs: int = 2
    rmsprop_decay: float = 0.9
    rmsprop_epsilon: float = 1.0
    momentum: float = 0.9
    clip_norm: float = 2.0  # the global norm of all gradients
    weight_decay: float = 4e-5  # on conv and dense kernels only; AdamW's decoupled
    ema_decay: float = 0.9999
    label_smoothing: float = 0.0
    aux_weight: float = 0.4  # the loss weight of every output after the first (auxiliary heads)


@dataclass(frozen=True)
class Run:
    """What one `archspec train` trains on and for how long. Everything here but `epochs` must be
    the same when a run is resumed: the data order and the schedule depend on it."""

    data: str  # "digits" or an ImageFolder root
    input_size: tuple[int, int]  # H, W
    epochs: int = 15
    batch_size: int = 32
    seed: int = 0
    limit: int | None = None  # at most this many training and validation images
    recipe: Recipe = field(default_factory=Recipe)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Run:
        """The settings a checkpoint recorded; TypeError or ValueError unless each is of its type
        and range (a state.json is input like any other)."""
        if not isinstance(data, dict):
            raise TypeError("the run settings are not a mapping")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        size = values.get("input_size")
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_whole(d, MAX_SIDE) for d in size)):
            raise ValueError(f"input_size must be two whole numbers from 1 to {MAX_SIDE}")
        values["input_size"] = tuple(size)
        if not isinstance(values.get("data"), str):
            raise ValueError("data must be a string")
        for name in ("epochs", "batch_size"):
            if name in values and not _whole(values[name]):
                raise ValueError(f"{name} must be a positive whole number")
        if values.get("limit") is not None and not _whole(values["limit"]):
            raise ValueError("limit must be a positive whole number or null")
        if "seed" in values and not (type(values["seed"]) is int and 0 <= values["seed"] < 2**32):
            raise ValueError("seed must be a whole number from 0 to 2^32 - 1")
        recipe = values.get("recipe", {})
        if not isinstance(recipe, dict):
            raise TypeError("the recipe is not a mapping")
        # A run recorded before runs chose their crop had the one its data called for.
        values["recipe"] = recipe_from_json({"augment": default_augment(values["data"]), **recipe})
        return cls(**values)


def default_augment(data: str) -> str:
    """Digits are 8x8 and not mirror-symmetric (a mirrored 2 is no digit): a milder crop, no flip."""
    return "light" if data == "digits" else "inception"


CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "augment": AUGMENTS}


def recipe_from_json(recipe: dict[str, Any]) -> Recipe:
    """A recorded recipe; ValueError unless each setting is known and of its kind: a name among its
    choices, a finite number, a whole number where the recipe counts."""
    kinds = {f.name: f.type for f in fields(Recipe)}
    for name, value in recipe.items():
        if name in CHOICES:
            if value not in CHOICES[name]:
                raise ValueError(f"recipe {name!r} must be one of {', '.join(CHOICES[name])}")
            continue
        number = type(value) is int or (type(value) is float and math.isfinite(value))
        if name not in kinds or not number or (kinds[name] == "int" and type(value) is not int):
            raise ValueError(f"recipe {name!r} must be a known, finite number")
        if value < 0:
            raise ValueError(f"recipe {name!r} must not be negative")
    return Recipe(**recipe)


MAX_SIDE = 65_536  # a run's input height or width


def _whole(value: Any, most: int = 10**15) -> bool:
    return type(value) is int and 1 <= value <= most


RESUME_FIXED = ("data", "batch_size", "seed", "input_size", "limit", "recipe")


def resume_conflicts(saved: Run, asked: Run) -> list[str]:
    """The settings in which `asked` differs from the run a checkpoint was written by."""
    return [name for name in RESUME_FIXED if getattr(saved, name) != getattr(asked, name)]


def learning_rate(recipe: Recipe, epoch: float, epochs: int = 1) -> float:
    """The rate at `epoch`, counted from 0 in epochs and fractions of one (a step's place), in a run
    of `epochs`. The step schedule is 0.045 x 0.94 ** (epoch // 2) with the defaults; the cosine one
    falls from the rate to 0 at the run's end. Either rises linearly from 0 during the warm-up."""
    warmup = recipe.warmup_epochs
    if epoch < warmup:
        return recipe.learning_rate * epoch / warmup
    if recipe.schedule == "cosine":
        done = (epoch - warmup) / max(epochs - warmup, 1e-9)
        return recipe.learning_rate * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
    return recipe.learning_rate * recipe.lr_decay ** (int(epoch) // recipe.decay_epochs)


def step_rate(recipe: Recipe, epoch: int, batch: int, steps: int, epochs: int) -> float:
    """The rate of batch `batch` (0-based) of `steps` in `epoch`: the staircase changes once an
    epoch, the warm-up and the cosine every step. A warm-up step takes the rate its end reaches, so
    that the first step moves and the last reaches the peak."""
    at = epoch + batch / steps
    if at < recipe.warmup_epochs:
        return recipe.learning_rate * (at + 1 / steps) / recipe.warmup_epochs
    return learning_rate(recipe, at, epochs)


def ema_decay(recipe: Recipe, updates: int) -> float:
    """The moving average's decay after `updates` optimizer steps: TF's ExponentialMovingAverage
    with num_updates, min(decay, (1 + n) / (10 + n)), so that a short run's average is not stuck
    near the initial weights."""
    return min(recipe.ema_decay, (1 + updates) / (10 + updates))


def step_seed(seed: int, step: int, rank: int) -> int:
    """The seed of the framework's generator (dropout) for one step of one process: randomness is
    a function of (seed, step, rank), so a resumed run draws what the uninterrupted run drew."""
    import numpy as np  # here: the command line reads this module's choices and must start fast

    return int(np.random.SeedSequence((seed, step, rank)).generate_state(1, dtype=np.uint64)[0] >> 1)


def settle(asked: dict[str, Any], saved: Run | None) -> Run:
    """A run's settings: those given on the command line (`asked`, with `data` and `input_size`
    always there), the others from the checkpoint being resumed, else the defaults. Given values
    that differ from the checkpoint's are left for `resume_conflicts` to report."""
    given = {k: v for k, v in asked.items() if v is not None and k != "recipe"}
    chosen = {k: v for k, v in asked.get("recipe", {}).items() if v is not None}
    if saved is not None:
        base = saved.to_json()
    else:
        base = Run(data=given["data"], input_size=given["input_size"]).to_json()
        base["recipe"].update(OPTIMIZER_DEFAULTS.get(chosen.get("optimizer", ""), {}))
        del base["recipe"]["augment"]  # the data's own, unless chosen
    return Run.from_json({**base, **given, "recipe": {**base["recipe"], **chosen}})
