"""Property: for any valid spec, the file `archspec compile` writes builds the live model, in both
backends, and the two backends compute the same function.

Specs are drawn at random: chains of steps and blocks of branches, every op kind,
parameterised blocks, blocks whose instances differ in structure through a parameterised repeat,
and names from a hostile alphabet (names that differ only in case or by `_` versus `/`,
keywords, builtins, dunder names, the helpers' and the models' own names). Each example checks
that the generated file imports, that its state_dict keys (torch) or its layers and weight
paths (Keras) equal the live model's, and that with the same weights the outputs are equal.
The live models run that very source, so these checks guard the loading path; the independent
check of the emitted semantics is the third property: with the same neutral weights, the torch
and the Keras model give the same outputs up to float32 rounding. A fourth checks that torch.fx,
torch.export and torch.compile take every drawn torch model and compute what it does, and that
ruff accepts its file with default settings.

ARCHSPEC_PROPERTY_EXAMPLES sets the number of examples per backend (300 by default); the
longer run of docs/internals.md uses 10,000."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import load_generated, ruff_accepts, tools_accept

import archspec
from archspec.ops import ACTIVATIONS as OP_ACTIVATIONS
from archspec.ops.padding import output_size
from archspec.spec import Spec

EXAMPLES = int(os.environ.get("ARCHSPEC_PROPERTY_EXAMPLES", "300"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every CI run; a longer run explores further
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Names a user may legally write that collide with something in Python, torch, Keras or the
# generated code, in pairs that differ only by case or by `_` against a scope separator.
HOSTILE = [
    "p_q", "p", "q", "stem", "Stem", "blk_1", "blk1", "__secret", "__secret__", "_", "x", "x_", "self",
    "forward", "forward_head", "forward_features", "spec", "program", "node_modules", "blocks", "place",
    "training", "training_", "keys", "items", "values", "children", "modules", "state_dict", "cuda", "to",
    "nn", "F", "torch", "Tensor", "keras", "layers", "tf", "build", "Model", "name", "input_shape", "inputs",
    "up", "out", "conv", "dense", "concat", "add", "maxpool", "max_pool", "avg_pool", "conv_bn_act", "ConvBnAct",
    "Dense", "BatchNorm", "BN", "ACTIVATIONS", "PACKAGE", "BN_SUFFIX", "ScaledAdd", "residual_add", "flatten_hwc",
    "class", "def", "None", "True", "lambda", "match", "case", "type", "print", "list", "dict", "super",
    "annotations", "dataclass", "Callable", "__init__", "__dict__", "__class__", "in_channels", "branch_0",
]  # fmt: skip
names = st.sampled_from(HOSTILE)
ACTIVATIONS = [a for a in OP_ACTIVATIONS if a != "softmax"]  # "none" last


@st.composite
def spatial_op(draw: st.DrawFn, channels: int | None, stride: int, size: int) -> tuple[dict[str, Any], int, int]:
    """One op that keeps (stride 1) or halves the size, its width and its output size. At stride 1
    every choice keeps the size, so that a block's residual add fits. `channels` is None inside
    a block, whose input width is a parameter."""
    kinds = ["conv", "conv", "separable_conv", "maxpool", "avgpool", "activation", "dropout", "shuffle"]
    kind = draw(st.sampled_from([*kinds, "batch_norm", "norm", "resize", "transpose"]))
    halved = -(-size // stride)
    if kind == "resize":  # down to the halved size at stride 2 (the parity tests resize up)
        op = {"op": "resize", "mode": draw(st.sampled_from(["nearest", "bilinear"]))}
        if op["mode"] == "bilinear" and draw(st.booleans()):
            op["align_corners"] = True
        if channels is None:  # in a block, whose input has this size: its shape read through `like`
            op = draw(st.sampled_from([op, {"op": "center_crop"}]))
            op["like"] = "input"
        else:  # to the size, by averaging windows, or the middle of the map
            op = draw(st.sampled_from([{**op, "size": [halved, halved]}, {"op": "adaptive_avgpool"},
                                       {"op": "center_crop"}]))  # fmt: skip
            op["size"] = [halved, halved]
        return op, channels, halved
    if kind == "transpose" and stride == 1:  # a transposed conv that keeps the size (the parity tests upsample)
        filters = draw(st.integers(1, 6))
        op = {"op": "conv_transpose", "kernel": 3, "padding": 1, "filters": filters, "bn": draw(st.booleans())}
        if draw(st.booleans()):
            op.update(kernel=1, padding=0, activation=draw(st.sampled_from(ACTIVATIONS)))
        return op, filters, size
    if kind == "separable_conv":
        filters = draw(st.integers(1, 6))
        op = {"op": kind, "kernel": draw(st.sampled_from([3, "1x3"])), "filters": filters, "stride": stride}
        op["depth_multiplier"] = draw(st.integers(1, 2))
        if draw(st.booleans()):
            op["bn"] = False
        return op, filters, halved
    if kind == "conv":
        filters = draw(st.integers(1, 6))
        op: dict[str, Any] = {"op": "conv", "kernel": draw(st.sampled_from(["1x1", "3x3", "1x3", "2x2"])),
                              "filters": filters, "stride": stride}  # fmt: skip
        if draw(st.booleans()):
            op["bn"] = draw(st.sampled_from([False, {"eps": 0.01, "momentum": 0.2, "scale": False}]))
        if stride == 1 and draw(st.booleans()):  # explicit pads that keep the size of a 1x1 or 3x3
            op["kernel"] = draw(st.sampled_from(["1x1", "3x3"]))
            op["padding"] = 0 if op["kernel"] == "1x1" else draw(st.sampled_from([1, [1, 1], [1, 1, 1, 1]]))
        if channels is not None and draw(st.booleans()):  # grouped: groups divide the widths
            groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
            op["groups"], op["filters"] = groups, groups * draw(st.integers(1, 3))
            filters = op["filters"]
        if stride == 1 and "padding" not in op and draw(st.booleans()):  # same padding keeps the size
            op["dilation"] = 2
        if draw(st.booleans()):
            op["activation"] = draw(st.sampled_from(ACTIVATIONS))
        return op, filters, halved
    if kind in ("maxpool", "avgpool"):
        kernel = draw(st.sampled_from([2, 3]))
        op = {"op": kind, "kernel": kernel, "stride": stride}
        if kind == "avgpool" and draw(st.booleans()):
            op["include_padding"] = True
        if not draw(st.booleans()):
            return op, channels, halved
        # Explicit pads (at most half the window) and PyTorch's ceil mode.
        op["ceil_mode"] = draw(st.booleans())
        if stride == 1:  # pads that keep the size
            op["padding"] = [0, 1, 0, 1] if kernel == 2 else draw(st.sampled_from([1, [1, 1], [1, 1, 1, 1]]))
            return op, channels, size
        op["padding"] = draw(st.sampled_from([0, kernel // 2, [kernel // 2, 0]]))
        pads = op["padding"] if isinstance(op["padding"], list) else [op["padding"]] * 2
        out = output_size(size, kernel, stride, (pads[0], pads[0]), op["ceil_mode"])
        if out < 1 or output_size(size, kernel, stride, (pads[1], pads[1]), op["ceil_mode"]) != out:
            return {"op": kind, "kernel": kernel, "stride": stride}, channels, halved
        return op, channels, out
    if stride == 2:
        return {"op": "maxpool", "kernel": 2, "stride": 2}, channels, halved
    if kind == "activation":
        return {"op": "activation", "fn": draw(st.sampled_from(ACTIVATIONS[:-1]))}, channels, size
    if kind == "batch_norm":
        op = {"op": "batch_norm", "activation": draw(st.sampled_from(ACTIVATIONS))}
        if draw(st.booleans()):
            op["bn"] = {"eps": 0.01, "momentum": 0.3, "scale": draw(st.booleans()), "center": draw(st.booleans())}
        return op, channels, size
    if kind == "norm":  # layer norm, layer scale and drop path; group norm where the width is known
        norms = ["layer_norm", "layer_scale", "drop_path"] + (["group_norm"] if channels is not None else [])
        op = {"op": draw(st.sampled_from(norms))}
        if op["op"] == "group_norm":
            op["groups"] = draw(st.sampled_from([g for g in (1, 2, 3) if channels and channels % g == 0]))
        if op["op"] in ("layer_norm", "group_norm") and draw(st.booleans()):
            op["eps"] = draw(st.sampled_from([1e-6, 0.1]))
        if op["op"] == "layer_scale":
            op["init"] = draw(st.sampled_from([1e-6, 0.5, -2.0]))
        if op["op"] == "drop_path":
            op["rate"] = draw(st.sampled_from([0.0, 0.3]))
        return op, channels, size
    if kind == "shuffle" and channels is not None:
        return (
            {"op": "channel_shuffle", "groups": draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))},
            channels,
            size,
        )
    return {"op": "dropout", "rate": 0.5}, channels, size


def named(draw: st.DrawFn, op: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """Give the op a hostile name unless it is taken in its scope (unnamed ops are numbered)."""
    if draw(st.booleans()):
        name = draw(names)
        if name not in used:
            used.add(name)
            return {**op, "name": name}
    return op


# Ops at a block's width `$w` that keep it, each followed in some examples by a weighted op
# that reads it: the code generator must size that op's input from the op before, whatever its
# kind, also where the block's instances have different widths.
WIDTH_KEEPING = ["gate", "separable_conv", "depthwise", "grouped", "add", "activation", "pool", "split"]


def width_keeping(kind: str, index: int, previous: str) -> list[dict[str, Any]]:
    """Steps of one `kind` that read `previous` and give `$w` channels, named `keep_<index>...`."""
    name = f"keep_{index}"
    if kind == "gate":  # squeeze-and-excitation, with a hidden width `$h` that instances vary
        expand = {"op": "conv", "name": f"{name}_expand", "kernel": 1, "filters": "$w", "activation": "sigmoid"}
        return [
            {"op": "global_avgpool", "name": f"{name}_squeeze", "input": previous, "keepdims": True},
            {"op": "conv", "name": f"{name}_reduce", "kernel": 1, "filters": "$h", "bn": False, "bias": True},
            {**expand, "bn": False},
            {"op": "multiply", "name": name, "inputs": [previous, f"{name}_expand"]},
        ]  # fmt: skip
    if kind == "separable_conv":
        return [{"op": kind, "name": name, "input": previous, "kernel": 3, "filters": "$w"}]
    if kind == "depthwise":
        return [{"op": "conv", "name": name, "input": previous, "kernel": 3, "filters": "$w", "groups": "$w"}]
    if kind == "grouped":  # the input width once more, in one group: a conv whose groups are 1
        return [{"op": "conv", "name": name, "input": previous, "kernel": 1, "filters": "$w", "groups": 1}]
    if kind == "add":
        return [{"op": "add", "name": name, "shortcut": previous, "residual": previous, "scale": 0.5}]
    if kind == "activation":
        return [{"op": "activation", "name": name, "input": previous, "fn": "tanh"}]
    if kind == "split":  # slices of the first and the last channel, joined to the map and projected
        return [
            {"op": "channel_slice", "name": f"{name}_head", "input": previous, "stop": 1},
            {"op": "activation", "name": f"{name}_tanh", "fn": "tanh"},
            {"op": "channel_slice", "name": f"{name}_tail", "input": previous, "start": "${w - 1}", "stop": "$w"},
            {"op": "concat", "name": f"{name}_join", "inputs": [previous, f"{name}_tanh", f"{name}_tail"]},
            {"op": "conv", "name": name, "kernel": 1, "filters": "$w", "activation": "none"},
        ]
    return [{"op": "maxpool", "name": name, "input": previous, "kernel": 3}]


@st.composite
def block_body(draw: st.DrawFn, inner: str | None) -> tuple[list[Any], dict[str, Any]]:
    """A block whose width out is a function of `$w`, its input width: branches of one or two
    ops, joined by concat, projected back to `$w` by a conv, then ops that keep the width
    (a gate, separable, depthwise and grouped convs, an add...), each perhaps read by a 1x1
    conv, then residual-added to the input. With `inner`, a parameterised repeat of that block
    comes first."""
    body: list[Any] = []
    params: dict[str, Any] = {"w": None, "h": 2}
    if inner is not None:
        body.append({"block": inner, "repeat": "$n", "with": {"w": "$w"}})
        params["n"] = 1
    branches: dict[str, list[Any]] = {}
    for _ in range(draw(st.integers(1, 3))):
        branch = draw(names)
        if branch in branches:
            continue
        used: set[str] = set()
        ops = [named(draw, draw(spatial_op(None, 1, 4))[0], used) for _ in range(draw(st.integers(1, 2)))]
        branches[branch] = ops
    body.append({"branches": branches})
    used = set()
    body.append({"op": "conv", "name": "project", "kernel": "1x1", "filters": "$w", "bn": False, "activation": "none"})
    previous = "project"
    for index, kind in enumerate(draw(st.lists(st.sampled_from(WIDTH_KEEPING), max_size=3))):
        body += width_keeping(kind, index, previous)
        previous = body[-1]["name"]
        if draw(st.booleans()):  # a weighted op whose input width is what the op before gave
            reader = {"op": "conv", "name": f"read_{index}", "kernel": 1, "filters": "$w", "activation": "none"}
            body.append(reader)
            previous = reader["name"]
    add: dict[str, Any] = {"op": "add", "shortcut": "input", "scale": draw(st.sampled_from([1.0, 0.2, "$s"]))}
    if add["scale"] == "$s":
        params["s"] = 0.5
    if draw(st.booleans()):
        add["activation"] = "relu"
    body.append(named(draw, {**add, "residual": previous}, used))
    return body, params


@st.composite
def specs(draw: st.DrawFn) -> str:
    size, channels = draw(st.sampled_from([6, 8, 9])), 3
    blocks: dict[str, Any] = {}
    types = []
    for index in range(draw(st.integers(1, 3))):
        block_type = draw(names)
        if block_type in blocks:
            continue
        inner = types[0] if index and types and draw(st.booleans()) else None
        body, params = draw(block_body(inner))
        blocks[block_type] = {"params": params, "body": body}
        types.append(block_type)
    network: list[Any] = []
    steps: set[str] = {"input"}
    sizes: dict[str, tuple[int, int]] = {}  # single steps by name: their size and width
    for _ in range(draw(st.integers(1, 5))):
        step_name = draw(names)
        use_block = draw(st.booleans())
        if use_block:
            block_type = draw(st.sampled_from(types))
            if draw(st.booleans()):  # a new width, so that instances of one block type differ
                channels = draw(st.integers(1, 6))
                network.append({"op": "conv", "kernel": "1x1", "filters": channels})
            step: dict[str, Any] = {"block": block_type, "with": {"w": channels, "h": draw(st.integers(1, 3))}}
            if "n" in blocks[block_type]["params"]:
                step["with"]["n"] = draw(st.integers(1, 2))
            if "s" in blocks[block_type]["params"] and draw(st.booleans()):
                step["with"]["s"] = 0.25
            repeat = draw(st.integers(1, 3))
            if repeat > 1:
                step["repeat"] = repeat
                if step_name in steps or any(f"{step_name}_{i}" in steps for i in range(1, repeat + 1)):
                    continue
                steps.update(f"{step_name}_{i}" for i in range(1, repeat + 1))
            elif step_name in steps:
                continue
            else:
                steps.add(step_name)
                sizes[step_name] = (size, channels)
            network.append({**step, "name": step_name})
        else:
            if step_name in steps:
                continue
            stride = 2 if size > 3 and draw(st.booleans()) else 1
            op, channels, size = draw(spatial_op(channels, stride, size))
            steps.add(step_name)
            sizes[step_name] = (size, channels)
            network.append({**op, "name": step_name})
    # Steps that read more than the step before: a concat of two earlier steps of this size, and a
    # second output.
    same_size = [name for name, (s, _) in sizes.items() if s == size]
    if len(same_size) >= 2 and draw(st.booleans()):
        pair = draw(st.permutations(same_size))[:2]
        network.append({"op": "concat", "inputs": pair})
    extra_output = draw(st.sampled_from(sorted(sizes))) if sizes and draw(st.booleans()) else None
    head = [{"op": draw(st.sampled_from(["global_avgpool", "flatten"]))}]
    if draw(st.booleans()):
        head.append({"op": "dropout", "rate": 0.25})
    head.append(
        {"op": "dense", "units": draw(st.integers(1, 5)), "activation": draw(st.sampled_from(["none", "tanh"]))}
    )
    for op in head:
        step_name = draw(names)
        if step_name not in steps:
            steps.add(step_name)
            op["name"] = step_name
        network.append(op)
    spec: dict[str, Any] = {"archspec": 1, "name": draw(names), "input": {"shape": [size, size, 3]}, "network": network}
    if extra_output is not None:
        last = network[-1].get("name")
        if last is None:
            last = network[-1]["name"] = draw(st.sampled_from([n for n in ("logits", "out_") if n not in steps]))
        spec["outputs"] = [last, extra_output]
    if blocks:
        spec["blocks"] = blocks
    return yaml.safe_dump(spec, sort_keys=False)


def load_or_skip(text: str) -> Spec:
    """The drawn spec; a spec the front end refuses (a name taken twice after numbering, say) is
    a located error, not this property's concern, so it is discarded."""
    try:
        return archspec.load(text)
    except archspec.SpecError:
        from hypothesis import reject

        reject()
        raise AssertionError("unreachable") from None


def input_batch(spec: Spec) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((2, *spec.input_shape)).astype(np.float32)


def each(outputs: Any) -> list[np.ndarray]:
    """A model's outputs as arrays, one per spec output, channels last."""
    found = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    arrays = [np.asarray(o.detach().numpy() if hasattr(o, "detach") else o) for o in found]
    return [a.transpose(0, 2, 3, 1) if hasattr(found[i], "detach") and a.ndim == 4 else a for i, a in enumerate(arrays)]


def matches_summary(spec: Spec, params: int, outputs: list[np.ndarray], layer_shapes: dict[str, Any]) -> None:
    """What a built model has is what the front end's summary says, which is computed apart from
    any backend: its trainable parameters, each output's shape, and the shape of every node
    that the model shows by name (`layer_shapes`, node name -> shape without the batch)."""
    summary = spec.summary()
    assert params == summary["params"], f"the model has {params:,} parameters, the summary {summary['params']:,}"
    assert [tuple(o.shape[1:]) for o in outputs] == [spec.shapes[name] for name in spec.outputs]
    nodes = {node["name"]: tuple(node["output_shape"]) for node in summary["nodes"]}
    for name, shape in layer_shapes.items():
        assert tuple(shape) == nodes[name], f"'{name}' is {tuple(shape)} in the model, {nodes[name]} in the summary"


def torch_agrees(spec: Spec) -> bool:
    """The generated torch file is the source the live model runs, and it builds the live model."""
    torch = pytest.importorskip("torch")
    from archspec.backends import torch as bt
    from archspec.backends.torch.codegen import generate

    live = bt.build(spec).eval()
    parameters = sum(p.numel() for p in live.parameters() if p.requires_grad)  # trainable, as summary counts
    x = torch.from_numpy(input_batch(spec)).permute(0, 3, 1, 2)
    with torch.no_grad():
        theirs = each(live(x))
    matches_summary(spec, parameters, theirs, {})
    source = generate(spec)
    assert source == live.source
    with tempfile.TemporaryDirectory() as folder:
        generated = load_generated(source, Path(folder) / "generated_torch.py").build().eval()
    assert list(generated.state_dict()) == list(live.state_dict())
    generated.load_state_dict(live.state_dict())
    with torch.no_grad():
        ours = each(generated(x))
    assert len(ours) == len(theirs) == len(spec.outputs)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    return True


def keras_agrees(spec: Spec) -> bool:
    """The same for Keras: layer names, weight paths and outputs."""
    pytest.importorskip("keras")
    from archspec.backends import tensorflow as btf
    from archspec.backends.tensorflow.codegen import generate

    live = btf.build(spec)
    named = {layer.name.replace(".", "/"): layer for layer in live.layers}
    shown = {name: named[name].output.shape[1:] for name in spec.shapes if name in named and name != "input"}
    parameters = sum(int(np.prod(w.shape)) for w in live.trainable_weights)
    x = input_batch(spec)
    theirs = each(live(x, training=False))
    matches_summary(spec, parameters, theirs, shown)
    source = generate(spec)
    with tempfile.TemporaryDirectory() as folder:
        generated = load_generated(source, Path(folder) / "generated_keras.py").build()
    assert [layer.name for layer in generated.layers] == [layer.name for layer in live.layers]
    assert [v.path for v in generated.weights] == [v.path for v in live.weights]
    generated.set_weights(live.get_weights())
    ours = each(generated(x, training=False))
    assert len(ours) == len(theirs) == len(spec.outputs)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    return True


def frameworks_agree(spec: Spec) -> None:
    """The torch model, given the Keras model's weights, computes the Keras model's outputs."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("keras")
    from archspec.backends import tensorflow as btf
    from archspec.backends import torch as bt

    keras_model = btf.build(spec)
    torch_model = bt.build(spec).eval()
    bt.set_weights(torch_model, btf.get_weights(keras_model))
    x = input_batch(spec)
    expected = each(keras_model(x, training=False))
    with torch.no_grad():
        actual = each(torch_model(torch.from_numpy(x).permute(0, 3, 1, 2)))
    assert len(actual) == len(expected) == len(spec.outputs)
    for ours, theirs in zip(actual, expected, strict=True):
        scale = max(1.0, float(np.abs(theirs).max()))
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * scale)


@SETTINGS
@given(specs())
def test_torch_generated_file_is_the_live_model(text: str) -> None:
    torch_agrees(load_or_skip(text))


@SETTINGS
@given(specs())
def test_keras_generated_file_is_the_live_model(text: str) -> None:
    keras_agrees(load_or_skip(text))


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 15))
@given(specs())
def test_torch_generated_file_is_taken_by_pytorch_s_tools_and_ruff(text: str) -> None:
    """fx, export and a full-graph compile take the drawn network and compute what it does, and
    its file passes ruff with default settings, whatever the names and the ops."""
    pytest.importorskip("torch")
    from archspec.backends import torch as bt
    from archspec.backends.torch.codegen import generate

    spec = load_or_skip(text)
    tools_accept(bt.build(spec), spec.input_shape)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "generated_torch.py").write_text(generate(spec))
        ruff_accepts(Path(folder))


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 3))
@given(specs())
def test_torch_and_keras_compute_the_same_function(text: str) -> None:
    frameworks_agree(load_or_skip(text))


# The cases that once compiled to a wrong model, each written out.
HEADER = "archspec: 1\ninput: {shape: [8, 8, 3]}\n"
HEAD = "  - {op: global_avgpool}\n  - {op: dense, units: 3}\n"
WHY = {
    "p_q and p/q": """
blocks:
  inner: {body: [{op: conv, name: q, kernel: 1, filters: 3}]}
  b:
    body:
      - {block: inner, name: p}
      - {op: conv, name: p_q, kernel: 3, filters: 3}
      - {op: add, shortcut: p/q}
network:
  - {block: b}
""",
    "blk_1 and blk1": """
blocks:
  blk_1: {body: [{op: conv, kernel: 1, filters: 4}]}
  blk1: {body: [{op: conv, kernel: 3, filters: 4}]}
network:
  - {block: blk_1, name: one}
  - {block: blk1, name: two}
""",
    "Stem and stem": """
blocks:
  Stem: {body: [{op: conv, kernel: 1, filters: 4}]}
  stem: {body: [{op: conv, kernel: 3, filters: 4}, {op: conv, kernel: 1, filters: 4}]}
network:
  - {block: Stem, name: a}
  - {block: stem, name: b}
""",
    "a parameterised repeat": """
blocks:
  unit: {body: [{op: conv, kernel: 1, filters: 3}]}
  outer:
    params: {n: ~}
    body:
      - {block: unit, repeat: $n}
      - {op: conv, kernel: 3, filters: 3}
network:
  - {block: outer, name: first, with: {n: 1}}
  - {block: outer, name: second, with: {n: 2}}
""",
    "__secret": """
blocks:
  __secret: {body: [{op: conv, name: __secret, kernel: 1, filters: 4}]}
network:
  - {block: __secret, name: __secret, repeat: 3}
""",
    "two repeats of a dunder block type": """
blocks:
  __class__: {body: [{op: conv, kernel: 1, filters: 4}]}
network:
  - {op: conv, name: before, kernel: 1, filters: 4}
  - {block: __class__, name: a, repeat: 3}
  - {op: conv, name: between, kernel: 1, filters: 4}
  - {block: __class__, name: b, repeat: 3}
""",
    "a step named forward_head": """
network:
  - {op: conv, name: forward_head, kernel: 1, filters: 4}
  - {op: conv, name: forward_features, kernel: 1, filters: 4}
""",
    "a parameter nn and a node up": """
blocks:
  b:
    params: {nn: ~, torch: 1}
    body:
      - {op: conv, name: up, kernel: 1, filters: $nn}
      - {op: conv, name: nn, kernel: 1, filters: $torch}
network:
  - {block: b, name: one, with: {nn: 2}}
  - {block: b, name: two, with: {nn: 5, torch: 3}}
""",
    "blocks named conv and dense": """
blocks:
  conv: {body: [{op: conv, name: dense, kernel: 1, filters: 4}]}
  dense: {body: [{op: conv, name: conv, kernel: 1, filters: 4}]}
network:
  - {block: conv, name: conv_bn_act}
  - {block: dense, name: layers}
""",
    "steps named spec, program and node_modules": """
network:
  - {op: conv, name: spec, kernel: 1, filters: 4}
  - {op: conv, name: program, kernel: 1, filters: 4}
  - {op: dropout, name: node_modules, rate: 0.1}
""",
    "a conv after a gate, in instances of two widths": """
blocks:
  se:
    params: {channels: ~}
    body:
      - {op: global_avgpool, keepdims: true}
      - {op: conv, kernel: 1, filters: 2, bn: false, bias: true}
      - {op: conv, name: gate, kernel: 1, filters: $channels, bn: false, bias: true, activation: sigmoid}
      - {op: multiply, inputs: [input, gate]}
  unit:
    params: {width: ~}
    body:
      - {op: conv, kernel: 3x3, filters: $width}
      - {block: se, with: {channels: $width}}
      - {op: conv, name: c, kernel: 1x1, filters: 8}
network:
  - {block: unit, name: u1, with: {width: 16}}
  - {block: unit, name: u2, with: {width: 32}}
""",
    "training and training_": """
blocks:
  b:
    body:
      - {op: dropout, name: training_, rate: 0.1}
      - {op: conv, name: training, kernel: 1, filters: 4}
network:
  - {block: b, name: keys}
""",
}


@pytest.mark.parametrize("backend", ["torch", "keras"])
@pytest.mark.parametrize("text", WHY.values(), ids=WHY.keys())
def test_names_that_once_broke_the_generated_file(text: str, backend: str) -> None:
    spec = archspec.load(HEADER + text + HEAD)
    assert (torch_agrees if backend == "torch" else keras_agrees)(spec)


def test_a_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(archspec.SpecError, match="must be a name"):
        archspec.load(HEADER + 'network:\n  - {op: conv, name: "a\\n", kernel: 1, filters: 4}\n' + HEAD)
