"""The attribute vocabulary shared by every op kind: each attribute name's canonical form, and
its type in the JSON Schema.

A spec writes attributes loosely (`kernel: 1x7`, `stride: 2`, `bn: false`); the IR holds them in
one canonical form (`kernel=(1, 7)`, `stride=(2, 2)`, `bn=None`), so every later stage and every
backend reads a single shape of data. An attribute means the same in every kind that has it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from archspec.errors import ArchspecError, brief, shown
from archspec.limits import MAX_INT_TEXT, within_budget

# The functions are PyTorch's defaults, which Keras 3 computes alike: hardsigmoid clip(x / 6 + 1/2,
# 0, 1), hardswish x * hardsigmoid(x), hardtanh clip(x, -1, 1), elu with alpha 1, mish
# x * tanh(softplus(x)), leaky_relu with slope 0.01 below 0 (PyTorch's; Keras's own default is 0.2,
# and an activation step may give another `slope`); gelu is the exact (erf) one; softmax is over
# the channels.
ACTIVATIONS = (
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "hardtanh", "elu", "mish",
    "leaky_relu", "softmax", "none",
)  # fmt: skip
PADDINGS = ("valid", "same")


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation after a conv. `momentum` is the weight of the newest batch statistic
    (PyTorch's convention; TensorFlow/Keras momentum is 1 - this). `scale` is gamma, `center` beta."""

    eps: float = 1e-3
    momentum: float = 0.1
    scale: bool = True
    center: bool = True


class AttrError(ArchspecError, ValueError):
    """An attribute value that has the right type for the schema but is still unusable."""


REQUIRED = object()

# Attributes that connect nodes rather than configure them; the expander resolves these.
WIRING = {"op", "name", "input", "inputs", "shortcut", "residual", "like"}


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AttrError(f"must be a positive integer, got {shown(value)}")
    if not within_budget(value):
        raise AttrError(f"is {brief(value)}, more than {MAX_INT_TEXT}")
    return value


_DIGITS = "[0-9]{1,16}"  # a size written in 'HxW' text: ASCII digits, never a huge number to convert


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, str) and (
        m := re.fullmatch(rf"\s*({_DIGITS})\s*x\s*({_DIGITS})\s*", value)
    ):
        pair = (int(m.group(1)), int(m.group(2)))
    elif isinstance(value, list) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        pair = (value, value)
    try:
        return (_positive_int(pair[0]), _positive_int(pair[1]))
    except AttrError:
        raise AttrError(
            f"must be a positive integer, 'HxW' or [H, W], got {shown(value)}"
        ) from None


def _padding(value: Any) -> str | tuple[int, int, int, int]:
    """`same`, `valid`, or explicit pads as (top, bottom, left, right): an integer on every side,
    [ph, pw] (PyTorch's: ph above and below, pw left and right) or [top, bottom, left, right]."""
    if value in PADDINGS:
        return str(value)
    sides = [value] * 4 if not isinstance(value, list) else value
    if isinstance(value, list) and len(value) == 2:
        sides = [value[0], value[0], value[1], value[1]]
    ok = len(sides) == 4 and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sides
    )
    if not ok or not all(within_budget(v) for v in sides):
        raise AttrError(
            f"must be same, valid, a non-negative integer, [ph, pw] or [top, bottom, left, right], got {shown(value)}"
        )
    top, bottom, left, right = sides
    return (top, bottom, left, right)


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise AttrError(f"must be one of {', '.join(choices)}, got {shown(value)}")
        return str(value)

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise AttrError(f"must be true or false, got {shown(value)}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AttrError(f"must be a number, got {shown(value)}")
    return float(value)


def _rate(value: Any) -> float:
    rate = _number(value)
    if not 0.0 <= rate < 1.0:
        raise AttrError(f"must be in [0, 1), got {shown(value)}")
    return rate


def _non_negative_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    try:
        return _positive_int(value)
    except AttrError:
        raise AttrError(f"must be a non-negative integer, got {shown(value)}") from None


def _non_negative_pair(value: Any) -> tuple[int, int]:
    pair = (
        (value[0], value[1])
        if isinstance(value, list) and len(value) == 2
        else (value, value)
    )
    try:
        return (_non_negative_int(pair[0]), _non_negative_int(pair[1]))
    except AttrError:
        raise AttrError(
            f"must be a non-negative integer or [H, W], got {shown(value)}"
        ) from None


def _non_negative_number(value: Any) -> float:
    number = _number(value)
    if not number >= 0.0:  # Keras's LeakyReLU takes no negative slope
        raise AttrError(f"must be a number of at least 0, got {shown(value)}")
    return number


def _positive_number(value: Any) -> float:
    number = _number(value)
    if not number > 0.0:
        raise AttrError(f"must be a number above 0, got {shown(value)}")
    return number


def _batch_norm(value: Any) -> BatchNorm | None:
    if value is False:
        return None
    if value is True:
        return BatchNorm()
    if not isinstance(value, dict):
        raise AttrError(
            f"must be true, false or a mapping of eps, momentum, scale, center; got {shown(value)}"
        )
    eps = _number(value.get("eps", BatchNorm.eps))
    momentum = _number(value.get("momentum", BatchNorm.momentum))
    if eps <= 0 or not 0.0 <= momentum <= 1.0:
        raise AttrError(
            f"needs eps > 0 and momentum in [0, 1], got eps={eps}, momentum={momentum}"
        )
    scale = _bool(value.get("scale", True))
    center = _bool(value.get("center", True))
    return BatchNorm(eps, momentum, scale, center)


def _shape(value: Any) -> tuple[int, int, int]:
    if isinstance(value, str) and (
        m := re.fullmatch(
            rf"\s*({_DIGITS})\s*x\s*({_DIGITS})\s*x\s*({_DIGITS})\s*", value
        )
    ):
        value = [int(g) for g in m.groups()]
    if not isinstance(value, list) or len(value) != 3:
        raise AttrError(f"must be [H, W, C] or 'HxWxC', got {shown(value)}")
    h, w, c = (_positive_int(v) for v in value)
    return (h, w, c)


NORMALIZE: dict[str, Callable[[Any], Any]] = {
    "shape": _shape,
    "kernel": _pair,
    "stride": _pair,
    "padding": _padding,
    "ceil_mode": _bool,
    "groups": _positive_int,
    "dilation": _pair,
    "depth_multiplier": _positive_int,
    "keepdims": _bool,
    "filters": _positive_int,
    "units": _positive_int,
    "bias": _bool,
    "bn": _batch_norm,
    "activation": _choice(ACTIVATIONS),
    "fn": _choice(tuple(a for a in ACTIVATIONS if a != "none")),
    "include_padding": _bool,
    "scale": _number,
    "rate": _rate,
    "eps": _positive_number,
    "slope": _non_negative_number,
    "init": _number,
    "factor": _pair,
    "size": _pair,
    "mode": _choice(("nearest", "bilinear")),
    "align_corners": _bool,
    "output_padding": _non_negative_pair,
    "start": _non_negative_int,
    "stop": _positive_int,
}


# Each attribute's type in the JSON Schema, a definition under `$defs`.
SCHEMA_TYPES: dict[str, str] = {
    "shape": "shape",
    "kernel": "size2",
    "stride": "size2",
    "padding": "padding",
    "filters": "positive_int",
    "units": "positive_int",
    "bias": "boolean",
    "bn": "bn",
    "activation": "activation",
    "fn": "activation",
    "include_padding": "boolean",
    "ceil_mode": "boolean",
    "groups": "positive_int",
    "dilation": "size2",
    "depth_multiplier": "positive_int",
    "keepdims": "boolean",
    "scale": "number",
    "rate": "number",
    "eps": "number",
    "slope": "number",
    "init": "number",
    "factor": "size2",
    "size": "size2",
    "mode": "resize_mode",
    "align_corners": "boolean",
    "output_padding": "non_negative_pair",
    "start": "non_negative_int",
    "stop": "positive_int",
}


def canonical_attrs(
    op: str, defaults: Mapping[str, Any], given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Defaults filled in and every value in canonical form; problems per attribute name."""
    attrs: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, default in defaults.items():
        value = given.get(key, default)
        if value is REQUIRED:
            problems[key] = (
                f"this {op} step needs '{key}', here or under defaults: {{{op}: {{{key}: ...}}}}"
            )
            continue
        if (
            value is None and key in given
        ):  # `~`, or a parameter whose default `~` nothing replaced
            problems[key] = f"'{key}' has no value (null)"
            continue
        if value is None:  # a derived default, settled below
            attrs[key] = None
            continue
        try:
            attrs[key] = NORMALIZE[key](value)
        except AttrError as exc:
            problems[key] = f"'{key}' {exc}"
    if (
        "bias" in attrs and attrs["bias"] is None
    ):  # a bias only when no batch norm absorbs it
        attrs["bias"] = attrs.get("bn") is None
    return attrs, problems
