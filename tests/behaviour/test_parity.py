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
    "norms_and_layer_scale": network("""
  - {op: conv, name: stem, kernel: 3x3, filters: 8}
  - {op: layer_norm, eps: 0.000001}
  - {op: conv, kernel: 3x3, filters: 8, groups: 8, bn: false, bias: true, activation: none}
  - {op: group_norm, groups: 2, eps: 0.01}
  - {op: layer_scale, init: 0.25}
  - {op: drop_path, rate: 0.3}
  - {op: add, shortcut: stem}
  - {op: global_avgpool}
  - {op: layer_norm}
  - {op: dense, units: 6}
"""),
    "resize_up_and_to_another_node": network(
        """
  - {op: conv, name: stem, kernel: 3x3, filters: 6}
  - {op: conv, name: down, kernel: 3x3, stride: 2, filters: 6}
  - {op: conv, kernel: 3x3, stride: 2, filters: 6}
  - {op: resize, factor: 2}
  - {op: resize, like: stem, mode: bilinear}
  - {op: add, name: skip, shortcut: stem}
  - {op: resize, size: [7, 23], mode: bilinear, align_corners: true}
  - {op: resize, size: [13, 5], mode: bilinear}
  - {op: resize, like: down}
  - {op: resize, factor: [3, 1], mode: bilinear}
""",
        shape="[15, 13, 3]",
    ),
    "channel_split_and_shuffle": network("""
  - {op: conv, name: stem, kernel: 3x3, filters: 8}
  - {op: channel_slice, name: left, stop: 3}
  - {op: channel_slice, name: right, input: stem, start: 3, stop: 8}
  - {op: conv, kernel: 3x3, filters: 5}
  - {op: concat, inputs: [left, conv_0]}
  - {op: channel_shuffle, groups: 2}
  - {op: global_avgpool}
  - {op: channel_slice, start: 2, stop: 7}
"""),
    "u_net_up_and_crop": network(
        """
  - {op: conv, name: down1, kernel: 3x3, padding: valid, filters: 6}
  - {op: maxpool, kernel: 2, stride: 2, padding: valid}
  - {op: conv, kernel: 3x3, padding: valid, filters: 8}
  - {op: conv_transpose, name: up, kernel: 2, stride: 2, filters: 6}
  - {op: center_crop, name: skip, input: down1, like: up}
  - {op: concat, inputs: [skip, up]}
  - {op: conv_transpose, kernel: 3, stride: 2, padding: 1, output_padding: 1, filters: 4, bn: true, activation: relu}
  - {op: conv_transpose, kernel: [3, 1], stride: [1, 2], padding: [1, 0], filters: 3}
  - {op: center_crop, size: [5, 7]}
""",
        shape="[17, 16, 3]",
    ),
    "leaky_relu_slopes": network("""
  - {op: conv, kernel: 3x3, filters: 8, activation: leaky_relu}
  - {op: conv, kernel: 3x3, filters: 8, activation: none}
  - {op: activation, fn: leaky_relu, slope: 0.2}
  - {op: conv, kernel: 3x3, filters: 8, bn: false, activation: none}
  - {op: activation, fn: leaky_relu, slope: 1.5}
  - {op: global_avgpool}
  - {op: dense, units: 4, activation: leaky_relu}
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
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
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


def _norm(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    centred = x - x.mean(axes, keepdims=True)
    return centred / np.sqrt((centred**2).mean(axes, keepdims=True) + eps)


def _grouped(x: np.ndarray, groups: int, eps: float) -> np.ndarray:
    n, h, w, c = x.shape
    split = x.reshape(n, h, w, groups, c // groups)
    return _norm(split, (1, 2, 4), eps).reshape(x.shape)


# Each norm as the README defines it (NHWC, float64), then scaled and shifted per channel.
NORM_FORMULAS = {
    "layer_norm": ("{op: layer_norm, eps: 0.001}", lambda x: _norm(x, (3,), 1e-3)),
    "group_norm": ("{op: group_norm, groups: 3, eps: 0.001}", lambda x: _grouped(x, 3, 1e-3)),
    "group_norm_one_group": ("{op: group_norm, groups: 1, eps: 0.001}", lambda x: _grouped(x, 1, 1e-3)),
    "layer_scale": ("{op: layer_scale, init: 0.5}", lambda x: x),
}


@pytest.mark.parametrize("case", NORM_FORMULAS)
def test_each_norm_computes_its_formula_in_both_frameworks(case: str) -> None:
    """With random gamma (and beta), the norms and the layer scale against their definitions
    computed here, not by either framework; the weights reach Keras by their neutral roles."""
    step, formula = NORM_FORMULAS[case]
    spec = archspec.load(f"archspec: 1\nname: n\ninput: {{shape: [5, 4, 6]}}\nnetwork:\n  - {step}\n")
    torch.manual_seed(0)
    model = bt.build(spec).eval()
    rng = np.random.default_rng(3)
    weights = {key: rng.standard_normal(value.shape).astype(np.float32) for key, value in bt.get_weights(model).items()}
    bt.set_weights(model, weights)
    keras_model = btf.build(spec)
    btf.set_weights(keras_model, weights)
    x = rng.standard_normal((2, 5, 4, 6)).astype(np.float32) * 3 + 1
    with torch.no_grad():
        ours = to_nhwc(model(torch.from_numpy(x.transpose(0, 3, 1, 2))))
    theirs = np.asarray(keras_model(x, training=False))
    node = spec.nodes[-1].name
    expected = formula(x.astype(np.float64)) * weights[f"{node}/gamma"] + weights.get(f"{node}/beta", 0.0)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(theirs, expected, rtol=1e-4, atol=1e-5)


def test_drop_path_drops_whole_images_in_training_and_nothing_in_evaluation() -> None:
    """In training each image is all zeros or all x / (1 - rate), in both frameworks, and about a
    `rate` of the images are dropped; in evaluation the output is the input."""
    spec = archspec.load("archspec: 1\nname: d\ninput: {shape: [3, 3, 4]}\nnetwork:\n  - {op: drop_path, rate: 0.25}\n")
    x = np.random.default_rng(0).uniform(1, 2, (400, 3, 3, 4)).astype(np.float32)
    model, keras_model = bt.build(spec), btf.build(spec)
    with torch.no_grad():
        trained = to_nhwc(model.train()(torch.from_numpy(x.transpose(0, 3, 1, 2))))
        evaluated = to_nhwc(model.eval()(torch.from_numpy(x.transpose(0, 3, 1, 2))))
    for output in (trained, np.asarray(keras_model(x, training=True))):
        dropped = (output == 0).all(axis=(1, 2, 3))
        kept = np.isclose(output, x / 0.75, rtol=1e-6).all(axis=(1, 2, 3))
        assert (dropped | kept).all()
        assert 60 <= dropped.sum() <= 140  # 100 expected; outside this range with odds below 1e-8
    np.testing.assert_array_equal(evaluated, x)
    np.testing.assert_array_equal(np.asarray(keras_model(x, training=False)), x)


def _axis_taps(n: int, m: int, mode: str, align_corners: bool) -> np.ndarray:
    """The (m, n) matrix of one axis's resize, from the README's rule in float64."""
    taps = np.zeros((m, n))
    for d in range(m):
        if mode == "nearest":
            taps[d, min(math.floor(d * n / m), n - 1)] = 1.0
            continue
        source = (
            d * (n - 1) / (m - 1)
            if align_corners and m > 1
            else (0.0 if align_corners else max((d + 0.5) * n / m - 0.5, 0.0))
        )
        low = math.floor(source)
        high = min(low + 1, n - 1)
        taps[d, low] += 1.0 - (source - low)
        taps[d, high] += source - low
    return taps


RESIZES = {
    "nearest_up_3": ("factor: 3", (21, 15)),
    "nearest_to_size": ("size: [10, 11]", (10, 11)),
    "nearest_down": ("size: [3, 4]", (3, 4)),
    "bilinear_up_2": ("factor: 2, mode: bilinear", (14, 10)),
    "bilinear_to_size": ("size: [12, 9], mode: bilinear", (12, 9)),
    "bilinear_down": ("size: [4, 3], mode: bilinear", (4, 3)),
    "bilinear_align_corners": ("size: [12, 9], mode: bilinear, align_corners: true", (12, 9)),
    "bilinear_align_corners_to_one": ("size: [1, 1], mode: bilinear, align_corners: true", (1, 1)),
}


@pytest.mark.parametrize("case", RESIZES)
def test_each_resize_computes_the_rule_in_both_frameworks(case: str) -> None:
    """A 7x5 map resized, in both frameworks, against the README's rule computed here in float64
    (the source coordinate of each output cell, its two neighbours and their weights)."""
    step, (height, width) = RESIZES[case]
    spec = archspec.load(f"archspec: 1\nname: r\ninput: {{shape: [7, 5, 2]}}\nnetwork:\n  - {{op: resize, {step}}}\n")
    assert spec.output_shape == (height, width, 2)
    attrs = spec.nodes[-1].attrs
    x = np.random.default_rng(4).standard_normal((2, 7, 5, 2)).astype(np.float32)
    rows = _axis_taps(7, height, attrs["mode"], attrs["align_corners"])
    columns = _axis_taps(5, width, attrs["mode"], attrs["align_corners"])
    expected = np.einsum("hi,wj,nijc->nhwc", rows, columns, x.astype(np.float64))
    with torch.no_grad():
        ours = to_nhwc(bt.build(spec).eval()(torch.from_numpy(x.transpose(0, 3, 1, 2))))
    theirs = np.asarray(btf.build(spec)(x, training=False))
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(theirs, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("shape", "size"), [((13, 9), (6, 6)), ((7, 7), (7, 7)), ((5, 11), (7, 3)), ((9, 9), (1, 2))])
def test_adaptive_pooling_averages_the_readme_s_windows_in_both_frameworks(
    shape: tuple[int, int], size: tuple[int, int]
) -> None:
    """Each output cell the mean of input cells floor(i * n / m) to ceil((i + 1) * n / m) - 1 on
    each axis, computed here in float64: overlapping windows (13 to 6), one cell each (7 to 7), and
    windows repeated where the output is larger (5 to 7)."""
    spec = archspec.load(
        f"archspec: 1\nname: a\ninput: {{shape: [{shape[0]}, {shape[1]}, 2]}}\n"
        f"network:\n  - {{op: adaptive_avgpool, size: {list(size)}}}\n"
    )
    x = np.random.default_rng(5).standard_normal((2, *shape, 2)).astype(np.float32)
    expected = np.zeros((2, *size, 2))
    for i in range(size[0]):
        for j in range(size[1]):
            rows = slice(i * shape[0] // size[0], -(-(i + 1) * shape[0] // size[0]))
            columns = slice(j * shape[1] // size[1], -(-(j + 1) * shape[1] // size[1]))
            expected[:, i, j] = x[:, rows, columns].astype(np.float64).mean(axis=(1, 2))
    with torch.no_grad():
        ours = to_nhwc(bt.build(spec).eval()(torch.from_numpy(x.transpose(0, 3, 1, 2))))
    theirs = np.asarray(btf.build(spec)(x, training=False))
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(theirs, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "step",
    [
        "{kernel: 2, stride: 2}",
        "{kernel: 3, stride: 2, padding: 1, output_padding: 1}",
        "{kernel: [1, 3], stride: [3, 1]}",
    ],
)
def test_a_transposed_conv_scatters_each_input_cell_by_its_kernel(step: str) -> None:
    """Against its definition computed here in float64: each input cell adds its kernel, times its
    value, to the output at stride steps; then the padding is cropped from both ends (and the output
    padding, cells only the bias reaches, added at the end)."""
    spec = archspec.load(
        "archspec: 1\nname: t\ninput: {shape: [4, 5, 3]}\n"
        f"network:\n  - {{op: conv_transpose, filters: 2, {step[1:-1]}}}\n"
    )
    node = spec.nodes[-1]
    (kh, kw), (sh, sw), (oh, ow) = node.attrs["kernel"], node.attrs["stride"], node.attrs["output_padding"]
    pad = node.attrs["padding"]
    ph, pw = (0, 0) if pad == "valid" else (pad[0], pad[2])
    torch.manual_seed(0)
    model = bt.build(spec).eval()
    weights = bt.get_weights(model)
    kernel, bias = weights[f"{node.name}/kernel"].astype(np.float64), weights[f"{node.name}/bias"]  # (kh, kw, out, in)
    x = np.random.default_rng(6).standard_normal((2, 4, 5, 3)).astype(np.float32)
    full = np.zeros((2, 3 * sh + kh + oh, 4 * sw + kw + ow, 2))
    for i in range(4):
        for j in range(5):
            full[:, i * sh : i * sh + kh, j * sw : j * sw + kw] += np.einsum("nc,hwoc->nhwo", x[:, i, j], kernel)
    expected = full[:, ph : full.shape[1] - ph, pw : full.shape[2] - pw] + bias
    with torch.no_grad():
        ours = to_nhwc(model(torch.from_numpy(x.transpose(0, 3, 1, 2))))
    keras_model = btf.build(spec)
    btf.set_weights(keras_model, weights)
    theirs = np.asarray(keras_model(x, training=False))
    assert ours.shape == expected.shape == (2, *spec.output_shape)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(theirs, expected, rtol=1e-5, atol=1e-5)


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
