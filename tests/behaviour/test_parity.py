"""PyTorch and Keras models of one spec are one network: after moving random weights and batch-norm
statistics from the PyTorch model to the Keras model, their eval outputs agree, for every bundled
spec and for small specs aimed at the places where the two frameworks differ by default (same
padding at stride 2 on even sizes, same-padded pools, batch-norm conventions, flatten order)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest
from support import SMALL_INPUT, SMALL_NETWORKS, randomize_batch_norm

import archspec
from archspec.ops import ACTIVATIONS
from archspec.ops.padding import same_pads
from archspec.spec import Spec

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")
btf = pytest.importorskip("archspec.backends.tensorflow")

TOLERANCE = 1e-4  # relative to the largest output magnitude


def to_nhwc(output: torch.Tensor) -> np.ndarray:
    array = output.detach().numpy()
    return array.transpose(0, 2, 3, 1) if array.ndim == 4 else array


def outputs(spec: Spec, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The eval outputs of the PyTorch model and of the Keras model given its weights."""
    torch.manual_seed(seed)
    torch_model = bt.build(spec).eval()
    randomize_batch_norm(torch_model, seed)
    keras_model = btf.build(spec)
    btf.set_weights(keras_model, bt.get_weights(torch_model))
    x = np.random.default_rng(seed).standard_normal((2, *spec.input_shape), dtype=np.float32)
    with torch.no_grad():
        expected = to_nhwc(torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2))))
    return np.asarray(keras_model(x, training=False)), expected


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    assert actual.shape == expected.shape
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


@pytest.mark.parametrize("path", SMALL_NETWORKS, ids=lambda p: p.stem)
def test_bundled_networks_agree(path: Any) -> None:
    spec = archspec.load(path, input_shape=SMALL_INPUT)
    actual, expected = outputs(spec)
    assert actual.shape == (2, *spec.output_shape)
    assert relative_error(actual, expected) <= TOLERANCE


def network(steps: str, shape: str = "[16, 16, 3]") -> str:
    return f"archspec: 1\nname: case\ninput: {{shape: {shape}}}\nnetwork:\n{steps}"


AVERAGE_POOLS = """
  - {{op: conv, kernel: 3x3, filters: 8, activation: none}}
  - {{op: avgpool, kernel: 3x3, include_padding: {include}}}
  - {{op: avgpool, kernel: 3x3, stride: 2, include_padding: {include}}}
  - {{op: avgpool, kernel: 2x2, include_padding: {include}}}
  - {{op: avgpool, kernel: 4x4, stride: 2, include_padding: {include}}}
  - {{op: avgpool, kernel: 3x3, stride: 2, padding: valid, include_padding: {include}}}
"""

# Convs and pools without an activation first, so that values near the border are negative:
# padding a max pool with zeros, or averaging padded zeros in, would then show.
CASES = {
    "conv_same_stride_2_even_input": network("""
  - {op: conv, kernel: 3x3, stride: 2, filters: 8, activation: none}
  - {op: conv, kernel: 4x4, filters: 8}
  - {op: conv, kernel: 1x7, stride: 2, filters: 8}
  - {op: conv, kernel: 3x3, stride: 2, filters: 4, activation: none}
"""),
    "conv_same_stride_2_odd_input": network(
        """
  - {op: conv, kernel: 3x3, stride: 2, filters: 8}
  - {op: conv, kernel: 5x5, stride: 3, filters: 4, activation: none}
""",
        shape="[15, 17, 3]",
    ),
    "maxpool_same_stride_2_even_input": network("""
  - {op: conv, kernel: 3x3, filters: 8, activation: none}
  - {op: maxpool, kernel: 3x3, stride: 2}
  - {op: maxpool, kernel: 2x2}
  - {op: maxpool, kernel: 3x3, stride: 2}
"""),
    "avgpool_same_excluding_padding": network(AVERAGE_POOLS.format(include="false")),
    "avgpool_same_including_padding": network(AVERAGE_POOLS.format(include="true")),
    "dense_after_flatten": network("""
  - {op: conv, kernel: 3x3, stride: 2, filters: 4}
  - {op: flatten}
  - {op: dense, units: 10, activation: relu}
  - {op: dropout, rate: 0.5}
  - {op: dense, units: 3, bias: false}
"""),
    "add_with_scale_and_activation": network("""
  - {op: conv, name: stem, kernel: 3x3, filters: 8}
  - {op: conv, kernel: 3x3, filters: 8, bn: false, activation: none}
  - {op: add, name: first, shortcut: stem, scale: 0.37, activation: relu6}
  - {op: conv, kernel: 1x1, filters: 8, activation: none}
  - {op: add, name: second, shortcut: first}
  - {op: conv, kernel: 1x1, filters: 8, activation: none}
  - {op: add, shortcut: second, scale: 2.5, activation: tanh}
"""),
    "batch_norm_on_its_own": network("""
  - {op: conv, name: stem, kernel: 3x3, filters: 8, bn: false, bias: true, activation: none}
  - {op: batch_norm, activation: relu}
  - {op: conv, kernel: 3x3, filters: 8, bn: false, activation: none}
  - {op: batch_norm, bn: {eps: 0.1, momentum: 0.01, scale: false}}
  - {op: add, shortcut: stem}
  - {op: batch_norm, bn: {center: false}, activation: hardswish}
"""),
    "batch_norm_without_scale_or_center": network("""
  - {op: conv, kernel: 3x3, filters: 8, bn: {scale: false}}
  - {op: conv, kernel: 3x3, filters: 8, bn: {center: false}, activation: none}
  - {op: conv, kernel: 3x3, filters: 8, bn: {scale: false, center: false, eps: 0.1}, activation: none}
  - {op: conv, kernel: 3x3, filters: 8, bn: {eps: 0.00001, momentum: 0.01}, activation: none}
  - {op: conv, kernel: 1x1, filters: 4, bn: false, bias: true}
"""),
}
for fn in (a for a in ACTIVATIONS if a != "none"):
    CASES[f"activation_{fn}"] = network(f"""
  - {{op: conv, kernel: 3x3, filters: 8, activation: {fn}}}
  - {{op: conv, kernel: 3x3, filters: 8, activation: none}}
  - {{op: activation, fn: {fn}}}
  - {{op: global_avgpool}}
  - {{op: dense, units: 6, activation: {fn}}}
""")


def _hardsigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x / 6 + 0.5, 0, 1)


# Each activation as the README defines it, written from its formula, not from either framework.
FORMULAS = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "hardswish": lambda x: x * _hardsigmoid(x),
    "hardsigmoid": _hardsigmoid,
    "hardtanh": lambda x: np.clip(x, -1, 1),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
}


def test_every_activation_has_a_formula_here() -> None:
    assert sorted(FORMULAS) == sorted(a for a in ACTIVATIONS if a != "none")


@pytest.mark.parametrize("fn", FORMULAS)
def test_each_activation_computes_its_formula_in_both_frameworks(fn: str) -> None:
    """On 241 points of [-6, 6], across every kink of the piecewise ones, in float64 arithmetic
    here against float32 there."""
    x = np.linspace(-6, 6, 241)
    spec = archspec.load(
        f"archspec: 1\nname: f\ninput: {{shape: [1, 1, {x.size}]}}\nnetwork:\n  - {{op: activation, fn: {fn}}}\n"
    )
    batch = x.astype(np.float32).reshape(1, 1, 1, -1)
    with torch.no_grad():
        ours = to_nhwc(bt.build(spec).eval()(torch.from_numpy(batch).permute(0, 3, 1, 2)))
    theirs = np.asarray(btf.build(spec)(batch, training=False))
    expected = FORMULAS[fn](batch.astype(np.float64))
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(theirs, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_small_specs_agree(text: str) -> None:
    spec = archspec.load(text)
    actual, expected = outputs(spec, seed=1)
    assert relative_error(actual, expected) <= TOLERANCE


def test_the_padding_cases_are_where_the_frameworks_differ() -> None:
    """Guard against the cases above testing nothing: the stride-2 same conv on an even size pads
    asymmetrically (PyTorch's own padding is symmetric), and counting padded cells does change
    the average pools' output."""
    spec = archspec.load(CASES["conv_same_stride_2_even_input"])
    assert spec.shapes["input"][:2] == (16, 16) and same_pads(16, 3, 2) == (0, 1)
    excluding, _ = outputs(archspec.load(CASES["avgpool_same_excluding_padding"]), seed=1)
    including, _ = outputs(archspec.load(CASES["avgpool_same_including_padding"]), seed=1)
    assert relative_error(including, excluding) > 1e-2


def test_batch_norm_momentum_conventions_agree_in_training() -> None:
    """One training-mode step updates the moving statistics alike: the IR's momentum is PyTorch's
    and 1 - Keras's. The variance differs only by Bessel's correction n / (n - 1), which PyTorch
    applies to the batch variance it folds in and Keras does not."""
    spec = archspec.load(network("  - {op: conv, kernel: 3x3, filters: 4, bn: {momentum: 0.3}}", "[6, 6, 3]"))
    torch.manual_seed(0)
    torch_model = bt.build(spec)
    randomize_batch_norm(torch_model, 0)
    keras_model = btf.build(spec)
    btf.set_weights(keras_model, bt.get_weights(torch_model))
    # Copies: the torch backend's arrays share memory with the model's buffers.
    before = {k: v.copy() for k, v in bt.get_weights(torch_model).items()}
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3), dtype=np.float32)
    torch_model.train()(torch.from_numpy(x.transpose(0, 3, 1, 2)))
    keras_model(x, training=True)
    ours, theirs = bt.get_weights(torch_model), btf.get_weights(keras_model)
    np.testing.assert_allclose(theirs["conv_0/moving_mean"], ours["conv_0/moving_mean"], rtol=1e-5, atol=1e-6)
    m, n = 0.3, 2 * 6 * 6
    old = before["conv_0/moving_variance"] * (1 - m)
    torch_batch, keras_batch = (ours["conv_0/moving_variance"] - old) / m, (theirs["conv_0/moving_variance"] - old) / m
    np.testing.assert_allclose(torch_batch, keras_batch * n / (n - 1), rtol=1e-4)
