"""Every op's shape rule, and the exact valid/same arithmetic (TensorFlow's same)."""

from __future__ import annotations

import math

import pytest

import archspec
from archspec import ops
from archspec.analysis import cost
from archspec.ops.padding import output_size, same_pads


def one_op(op: str, input_shape: str = "17x17x8", **attrs: object) -> archspec.Spec:
    """A spec with an input, the op under test, and nothing after it."""
    fields = ", ".join(f"{k}: {v}" for k, v in attrs.items())
    text = f"input: {{shape: {input_shape}}}\nnetwork:\n  - {{op: {op}, name: x{', ' + fields if fields else ''}}}\n"
    return archspec.load(text)


@pytest.mark.parametrize("size", range(1, 40))
@pytest.mark.parametrize("kernel", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_same_padding_matches_tensorflow_formula(size: int, kernel: int, stride: int) -> None:
    out = output_size(size, kernel, stride, "same")
    before, after = same_pads(size, kernel, stride)
    assert out == math.ceil(size / stride)
    assert before + after == max((out - 1) * stride + kernel - size, 0)
    assert after - before in (0, 1)  # the larger half goes after
    # the padded input is exactly covered by `out` windows
    assert (size + before + after - kernel) // stride + 1 == out


def test_same_padding_at_stride_2_on_even_size_is_asymmetric() -> None:
    assert same_pads(8, 3, 2) == (0, 1)
    assert same_pads(224, 7, 2) == (2, 3)
    assert same_pads(9, 3, 2) == (1, 1)
    assert output_size(8, 3, 2, "same") == 4


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"), [(299, 3, 2, 149), (147, 3, 2, 73), (35, 3, 2, 17), (3, 3, 1, 1)]
)
def test_valid_output_size(size: int, kernel: int, stride: int, expected: int) -> None:
    assert output_size(size, kernel, stride, "valid") == expected


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"kernel": "3x3", "filters": 4}, (17, 17, 4)),
        ({"kernel": "3x3", "filters": 4, "padding": "valid"}, (15, 15, 4)),
        ({"kernel": "3x3", "filters": 4, "stride": 2, "padding": "valid"}, (8, 8, 4)),
        ({"kernel": "3x3", "filters": 4, "stride": 2, "padding": "same"}, (9, 9, 4)),
        ({"kernel": "1x7", "filters": 4, "padding": "valid"}, (17, 11, 4)),
        ({"kernel": "7x1", "filters": 4, "padding": "valid"}, (11, 17, 4)),
        ({"kernel": "[3, 5]", "filters": 4, "stride": "[1, 2]", "padding": "valid"}, (15, 7, 4)),
    ],
)
def test_conv_shape(attrs: dict[str, object], expected: tuple[int, ...]) -> None:
    assert one_op("conv", **attrs).shapes["x"] == expected


def test_conv_same_stride_2_on_even_input() -> None:
    assert one_op("conv", "8x8x3", kernel="3x3", filters=5, stride=2).shapes["x"] == (4, 4, 5)


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
def test_pool_shapes_keep_channels(op: str) -> None:
    assert one_op(op, kernel="3x3", stride=2, padding="valid").shapes["x"] == (8, 8, 8)
    assert one_op(op, kernel="3x3", stride=1, padding="same").shapes["x"] == (17, 17, 8)
    assert one_op(op, "8x8x2", kernel="3x3", stride=2, padding="same").shapes["x"] == (4, 4, 2)


def test_avgpool_padding_convention_is_recorded() -> None:
    assert one_op("avgpool", kernel=3).node("x").attrs["include_padding"] is False
    assert one_op("avgpool", kernel=3, include_padding="true").node("x").attrs["include_padding"] is True


def test_vector_ops() -> None:
    assert one_op("global_avgpool").shapes["x"] == (8,)
    assert one_op("flatten", "2x3x4").shapes["x"] == (24,)
    spec = archspec.load("input: {shape: 4x4x2}\nnetwork:\n  - {op: flatten}\n  - {op: dense, name: x, units: 7}\n")
    assert spec.shapes["x"] == (7,)
    assert spec.costs["x"] == cost.Cost(params=32 * 7 + 7, macs=32 * 7, activation_bytes=7 * 4)


@pytest.mark.parametrize("op", ["activation", "dropout"])
def test_elementwise_ops_keep_shape(op: str) -> None:
    attrs = {"fn": "relu"} if op == "activation" else {"rate": 0.5}
    assert one_op(op, **attrs).shapes["x"] == (17, 17, 8)


def test_concat_sums_channels_in_written_order() -> None:
    spec = archspec.load(
        "input: {shape: 9x9x3}\n"
        "network:\n"
        "  - name: x\n"
        "    branches:\n"
        "      second: [{op: conv, kernel: 1x1, filters: 5}]\n"
        "      first: [{op: maxpool, kernel: 3x3}]\n"
    )
    assert spec.shapes["x"] == (9, 9, 8)
    assert spec.node("x").inputs == ("x/second/conv_0", "x/first/maxpool_0")


def test_add_keeps_shape_and_scale() -> None:
    spec = archspec.load(
        "input: {shape: 9x9x3}\n"
        "network:\n"
        "  - {op: conv, name: a, kernel: 3x3, filters: 3, bn: false}\n"
        "  - {op: add, name: x, shortcut: input, scale: 0.2, activation: relu}\n"
    )
    assert spec.shapes["x"] == (9, 9, 3)
    assert spec.node("x").inputs == ("input", "a")
    assert spec.node("x").attrs["scale"] == 0.2


def test_conv_cost_counts_bias_and_batch_norm() -> None:
    with_bn = one_op("conv", "5x5x3", kernel="3x3", filters=4)
    assert with_bn.costs["x"].params == 3 * 3 * 3 * 4 + 2 * 4  # no bias: batch norm has beta
    assert with_bn.costs["x"].macs == 3 * 3 * 3 * 4 * 5 * 5
    no_bn = one_op("conv", "5x5x3", kernel="3x3", filters=4, bn="false")
    assert no_bn.costs["x"].params == 3 * 3 * 3 * 4 + 4
    no_gamma = one_op("conv", "5x5x3", kernel="3x3", filters=4, bn="{scale: false}")
    assert no_gamma.costs["x"].params == 3 * 3 * 3 * 4 + 4


def test_every_op_kind_has_a_schema_of_its_attributes() -> None:
    from archspec.frontend.schema import schema

    defs = schema()["$defs"]
    for op in ops.OP_KINDS:
        if op == "input":  # declared at the top of a spec, not as a step
            continue
        properties = set(defs[f"op_{op}"]["properties"])
        assert properties - ops.WIRING == set(ops.OP_ATTRS[op]), op
    assert set(defs["op_step"]["properties"]["op"]["enum"]) == set(ops.OP_KINDS) - {"input"}
