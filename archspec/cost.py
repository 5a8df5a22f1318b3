"""Static cost of every node: trainable parameters, multiply-accumulates and activation memory.

Parameters follow PyTorch's convention: conv and dense weights and biases, and batch-norm gamma
and beta where enabled (running statistics are buffers, not parameters). MACs count the
multiply-accumulates of conv and dense layers only; FLOPs are reported as 2 x MACs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archspec.ir import Node
from archspec.shapes import Shape

BYTES_PER_ELEMENT = 4  # activation memory is given for float32, batch 1


@dataclass(frozen=True)
class Cost:
    params: int
    macs: int
    activation_bytes: int


def _size(shape: Shape) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def _conv(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    kh, kw = n.attrs["kernel"]
    fan_in = kh * kw * inputs[0][2]
    filters = n.attrs["filters"]
    bn = n.attrs["bn"]
    params = fan_in * filters + (filters if n.attrs["bias"] else 0)
    if bn is not None:
        params += filters * (int(bn.scale) + int(bn.center))
    return params, fan_in * filters * out[0] * out[1]


def _dense(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    units = n.attrs["units"]
    weights = inputs[0][0] * units
    return weights + (units if n.attrs["bias"] else 0), weights


def _free(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    return 0, 0


RULES: dict[str, Callable[[Node, list[Shape], Shape], tuple[int, int]]] = {
    "input": _free,
    "conv": _conv,
    "maxpool": _free,
    "avgpool": _free,
    "concat": _free,
    "add": _free,
    "activation": _free,
    "dropout": _free,
    "global_avgpool": _free,
    "flatten": _free,
    "dense": _dense,
}


def node_cost(n: Node, shapes: dict[str, Shape]) -> Cost:
    out = shapes[n.name]
    params, macs = RULES[n.op](n, [shapes[s] for s in n.inputs], out)
    return Cost(params, macs, _size(out) * BYTES_PER_ELEMENT)
