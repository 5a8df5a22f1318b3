"""The TensorFlow backend against the IR: every bundled spec built, generated, run and compared;
neutral weights, Keras reference weights, saving, training and distribution."""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import NETWORKS, SMALL_INPUT, SMALL_NETWORKS, load_generated

import archspec
from archspec.ir import Node
from archspec.spec import Spec
from archspec.weights import neutral

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
btf = pytest.importorskip("archspec.backends.tensorflow")  # first: it has Keras run on TensorFlow
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
from archspec.backends.tensorflow import layer_name, weight_paths  # noqa: E402
from archspec.backends.tensorflow.codegen import generate  # noqa: E402
from support import ROOT  # noqa: E402

# Every bundled network runs at 107x107 here, as in the torch tests: parameters do not depend on
# the input size, and the tests run in seconds, not minutes.

# A small network with every op kind, residual add and both kinds of average pooling.
SMALL = """
archspec: 1
name: small
input: {shape: [16, 16, 3]}
defaults: {conv: {bn: {eps: 0.001, momentum: 0.2}}}
blocks:
  res:
    body:
      - branches:
          a: [{op: conv, kernel: 1x1, filters: 4}]
          b: [{op: avgpool, kernel: 3x3, include_padding: true}, {op: conv, kernel: 1x1, filters: 4}]
          c: [{op: avgpool, kernel: 3x3}, {op: conv, kernel: 1x1, filters: 4, bn: {scale: false}}]
      - {op: conv, name: up, kernel: 1x1, filters: 8, bn: false, activation: none}
      - {op: add, name: residual, shortcut: input, scale: 0.3, activation: relu}
network:
  - {op: conv, name: stem, kernel: 3x3, stride: 2, filters: 8}
  - {block: res}
  - {op: maxpool, kernel: 2x2, stride: 2}
  - {op: flatten}
  - {op: dropout, rate: 0.1}
  - {op: dense, units: 5, activation: none}
"""


def randomize_batch_norm(model: Any, seed: int = 0) -> None:
    """Give every batch norm non-trivial statistics and offsets, so outputs test their mapping."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.random(n, dtype=np.float32) - 0.5)
            layer.moving_variance.assign(rng.random(n, dtype=np.float32) + 0.5)
            if layer.gamma is not None:
                layer.gamma.assign(rng.random(n, dtype=np.float32) + 0.5)
            if layer.beta is not None:
                layer.beta.assign(rng.random(n, dtype=np.float32) - 0.5)


def run(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(x, training=False))


def batch(spec: Spec, n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *spec.input_shape), dtype=np.float32)


@pytest.fixture(scope="module", params=SMALL_NETWORKS, ids=lambda p: p.stem)
def case(request: pytest.FixtureRequest) -> tuple[Spec, Any]:
    spec = archspec.load(request.param, input_shape=SMALL_INPUT)
    keras.utils.set_random_seed(0)
    model = btf.build(spec)
    randomize_batch_norm(model)
    return spec, model


def test_parameter_count_and_output_shape_match_the_ir(case: tuple[Spec, Any]) -> None:
    spec, model = case
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == spec.params
    assert tuple(model.output_shape[1:]) == spec.output_shape
    out = run(model, batch(spec))
    assert out.shape == (2, *spec.output_shape)
    assert np.isfinite(out).all()


def test_layer_names_follow_the_ir(case: tuple[Spec, Any]) -> None:
    spec, model = case
    names = {layer.name for layer in model.layers}
    assert {layer_name(node.name) for node in spec.nodes} <= names
    # Every variable is a neutral weight, and every neutral weight is a variable.
    assert sorted(v.path for v in model.weights) == sorted(weight_paths(spec).values())


def test_generated_source_matches_the_built_model(case: tuple[Spec, Any], tmp_path: Path) -> None:
    """The generated model has the built one's layers, and with its weights, moved through a
    neutral weight file, computes the same outputs."""
    spec, model = case
    source = generate(spec)
    assert source == generate(spec)  # deterministic
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports - {"numpy"} == {"__future__", "dataclasses", "keras"}
    # numpy only where a resize or an adaptive pool computes its source cells
    assert ("numpy" in imports) == any(n.op in ("resize", "adaptive_avgpool") for n in spec.nodes)
    generated = load_generated(source, tmp_path / f"generated_tf_{spec.name}.py").build()
    assert [layer.name for layer in generated.layers] == [layer.name for layer in model.layers]
    neutral.save(btf.get_weights(model), tmp_path / "w.safetensors")
    btf.set_weights(generated, neutral.load(tmp_path / "w.safetensors"), spec=spec)
    x = batch(spec)
    assert np.array_equal(run(generated, x), run(model, x))


def test_generated_source_passes_ruff(tmp_path: Path) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this Python")
    for path in NETWORKS:
        (tmp_path / f"{path.stem}_tf_model.py").write_text(generate(archspec.load(path)))
    (tmp_path / "small_tf_model.py").write_text(generate(archspec.load(SMALL)))
    config = ROOT / "pyproject.toml"
    result = subprocess.run(
        [str(ruff), "check", "--config", str(config), str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_neutral_weights_have_the_neutral_keys_and_layouts(case: tuple[Spec, Any]) -> None:
    spec, model = case
    weights = btf.get_weights(model)
    assert {k: v.shape for k, v in weights.items()} == neutral.expected_shapes(spec)
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in weights.values())
    variances = [k for k in weights if k.endswith("/moving_variance")]
    assert bool(variances) == any(n.attrs.get("bn") is not None for n in spec.nodes)  # ConvNeXt has none
    for variance in variances[:1]:
        assert not np.array_equal(weights[variance], np.ones_like(weights[variance]))  # the randomised ones


def test_get_weights_takes_a_snapshot() -> None:
    """The arrays are copies: training the model, or writing to them, changes only one side."""
    spec = archspec.load(SMALL)
    model = btf.build(spec)
    weights = btf.get_weights(model)
    kept = {k: v.copy() for k, v in weights.items()}
    model(batch(spec), training=True)  # updates the moving statistics
    assert all(np.array_equal(weights[k], kept[k]) for k in weights)
    weights["stem/kernel"][...] = 5.0
    assert not np.array_equal(btf.get_weights(model)["stem/kernel"], weights["stem/kernel"])


def test_set_weights_names_the_first_bad_array() -> None:
    spec = archspec.load(SMALL)
    model = btf.build(spec)
    weights = btf.get_weights(model)
    weights["stem/kernel"] = np.zeros((3, 3, 3, 7), np.float32)
    with pytest.raises(ValueError, match=r"'stem/kernel' has shape \(3, 3, 3, 7\)"):
        btf.set_weights(model, weights)
    del weights["stem/kernel"]
    with pytest.raises(ValueError, match="lack 'stem/kernel'"):
        btf.set_weights(model, weights)


def test_batch_norm_conventions() -> None:
    """Keras momentum is the complement of the IR's; a batch norm without scale has no gamma."""
    spec = archspec.load(SMALL)
    model = btf.build(spec)
    bn = model.get_layer("stem-bn")
    assert bn.momentum == pytest.approx(0.8) and bn.epsilon == pytest.approx(0.001)
    no_scale = model.get_layer("res.c.conv_0-bn")
    assert no_scale.gamma is None and no_scale.beta is not None
    assert "res/c/conv_0/gamma" not in btf.get_weights(model)


def test_a_model_not_built_here_needs_its_spec(tmp_path: Path) -> None:
    spec = archspec.load(SMALL)
    model = btf.build(spec)
    model.save(tmp_path / "small.keras")
    loaded = keras.models.load_model(tmp_path / "small.keras")
    with pytest.raises(ValueError, match="pass the spec it follows as spec="):
        btf.get_weights(loaded)
    other = archspec.load(ROOT / "specs" / "examples" / "inception_v4_small.yaml")
    with pytest.raises(ValueError, match=r"has no variable 'stem\.conv2d_1a/kernel'"):
        btf.get_weights(loaded, spec=other)
    assert btf.get_weights(loaded, spec=spec).keys() == btf.get_weights(model).keys()


def test_save_and_load_model_round_trip(tmp_path: Path) -> None:
    spec = archspec.load(SMALL)
    keras.utils.set_random_seed(0)
    model = btf.build(spec)
    randomize_batch_norm(model)
    model.save(tmp_path / "small.keras")
    loaded = keras.models.load_model(tmp_path / "small.keras")
    assert keras.saving.get_registered_name(type(loaded.get_layer("res.residual"))) == "archspec>ScaledAdd"
    assert loaded.get_layer("res.residual").scale == pytest.approx(0.3)
    x = batch(spec)
    assert np.array_equal(run(loaded, x), run(model, x))


def _classification_data(spec: Spec, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return batch(spec, n), rng.integers(0, spec.output_shape[0], n)


def _compile(model: Any) -> None:
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss)


def test_fit_trains_every_weight() -> None:
    spec = archspec.load(SMALL)
    keras.utils.set_random_seed(0)
    model = btf.build(spec)
    before = btf.get_weights(model)
    _compile(model)
    history = model.fit(*_classification_data(spec), batch_size=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    after = btf.get_weights(model)
    unchanged = [k for k in before if np.array_equal(before[k], after[k])]
    assert unchanged == []  # kernels, biases, gamma, beta and the moving statistics all moved


def test_fit_inside_a_distribution_strategy() -> None:
    spec = archspec.load(SMALL)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = btf.build(spec)
        _compile(model)
    assert all(strategy.extended.variable_created_in_scope(v.value) for v in model.weights)
    history = model.fit(*_classification_data(spec), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert set(btf.get_weights(model)) == set(neutral.expected_shapes(spec))


def test_generated_source_keeps_non_chain_steps_and_several_outputs(tmp_path: Path) -> None:
    """A step that reads an earlier step than the one before it, and two outputs."""
    spec = archspec.load(
        """
archspec: 1
name: forked
input: {shape: [12, 12, 3]}
blocks:
  unit:
    params: {filters: ~}
    body: [{op: conv, kernel: 3x3, filters: $filters}]
network:
  - {block: unit, name: first, with: {filters: 4}}
  - {block: unit, repeat: 3, with: {filters: 4}}
  - {block: unit, name: side, input: first, with: {filters: 6}}
outputs: [unit_3, side]
"""
    )
    model = btf.build(spec)
    generated = load_generated(generate(spec), tmp_path / "generated_tf_forked.py").build()
    btf.set_weights(generated, btf.get_weights(model), spec=spec)
    x = batch(spec)
    ours, theirs = model(x, training=False), generated(x, training=False)
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_node_names_do_not_shadow_the_helpers(tmp_path: Path) -> None:
    """A node named like a helper function or constant gets another variable name."""
    spec = archspec.load(
        """
archspec: 1
name: shadow
input: {shape: [16, 16, 3]}
blocks:
  unit:
    body:
      - {op: maxpool, name: max_pool, kernel: 3x3}
      - {op: conv, name: conv_bn_act, kernel: 3x3, filters: 4}
      - {op: conv, name: BN, kernel: 1x1, filters: 4}
      - {op: maxpool, kernel: 3x3}
network:
  - {block: unit, name: layers}
  - {op: global_avgpool, name: keras}
"""
    )
    model = btf.build(spec)
    generated = load_generated(generate(spec), tmp_path / "generated_tf_shadow.py").build()
    btf.set_weights(generated, btf.get_weights(model), spec=spec)
    x = batch(spec)
    assert np.array_equal(run(generated, x), run(model, x))


EVIL = "'\"\\\n);INJECTED=1#{}"


def _hostile(spec: Spec) -> Spec:
    """The same network with every name, type and the spec's name carrying quotes, newlines and
    code, as a spec that slipped past the schema would."""

    def rename(name: str) -> str:
        return name if name == "input" else "/".join(part + EVIL for part in name.split("/"))

    graph = type(spec.graph)()
    steps = tuple(
        dataclasses.replace(
            s,
            name=rename(s.name),
            type=s.type + EVIL,
            output=rename(s.output),
            nodes=tuple(map(rename, s.nodes)),
            inputs=tuple(map(rename, s.inputs)),
        )
        for s in spec.steps
    )
    graph.graph.update(spec.graph.graph, steps=steps, outputs=tuple(map(rename, spec.outputs)))
    for node in spec.nodes:
        renamed: Node = dataclasses.replace(
            node, name=rename(node.name), inputs=tuple(map(rename, node.inputs)), block=rename(node.block)
        )
        graph.add_node(renamed.name, node=renamed)
        for source in renamed.inputs:
            graph.add_edge(source, renamed.name)
    shapes = {rename(k): v for k, v in spec.shapes.items()}
    costs = {rename(k): v for k, v in spec.costs.items()}
    return Spec(spec.name + EVIL, spec.source, graph, shapes, costs)


def test_names_cannot_inject_code(tmp_path: Path) -> None:
    spec = _hostile(archspec.load(SMALL))
    source = generate(spec)
    tree = ast.parse(source)
    assert "INJECTED" not in {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert all(
        not isinstance(node, ast.Assign) or all(getattr(t, "id", "") != "INJECTED" for t in node.targets)
        for node in ast.walk(tree)
    )
    module = load_generated(source, tmp_path / "generated_tf_hostile.py")
    assert not hasattr(module, "INJECTED")
    # The names reach Keras as data: each layer is named after its hostile IR name.
    model = module.build()
    assert {layer_name(node.name) for node in spec.nodes} <= {layer.name for layer in model.layers}


# keras.applications models built with weights=None stand in for the published weights: same
# layout, random values. include_top=True takes any size >= 75 when no ImageNet weights are asked for.
REFERENCE_INPUT = (139, 139, 3)
KERAS_APPLICATIONS = {"InceptionV3": "inception_v3_tf", "InceptionResNetV2": "inception_resnet_v2"}


def _keras_application(name: str, **kwargs: Any) -> Any:
    keras.utils.set_random_seed(3)
    reference = getattr(keras.applications, name)(
        weights=None, input_shape=REFERENCE_INPUT, classifier_activation=None, **kwargs
    )
    randomize_batch_norm(reference, seed=3)
    return reference


@pytest.mark.parametrize("application", KERAS_APPLICATIONS)
def test_outputs_equal_keras_applications_after_loading_their_weights(application: str) -> None:
    reference = _keras_application(application)
    spec = archspec.load(ROOT / "specs" / f"{KERAS_APPLICATIONS[application]}.yaml", input_shape=REFERENCE_INPUT)
    ours = btf.build(spec)
    btf.load_reference_weights(ours, reference, source="keras")
    weights = btf.get_weights(ours)
    gammas = [v for k, v in weights.items() if k.endswith("/gamma")]
    assert gammas and all(np.array_equal(g, np.ones_like(g)) for g in gammas)  # Keras's scale=False
    x = batch(spec)
    difference = np.abs(run(ours, x) - run(reference, x)).max()
    assert difference <= 1e-4, difference


def _keras_macs(model: Any) -> int:
    """Multiply-accumulates of a Keras model's conv, separable conv and dense layers, from the
    layers' own kernel and output shapes."""
    total = 0
    for layer in model.layers:
        positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) == 4 else 1
        if isinstance(layer, keras.layers.SeparableConv2D):
            total += (
                int(np.prod(layer.depthwise_kernel.shape)) + int(np.prod(layer.pointwise_kernel.shape))
            ) * positions
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            total += int(np.prod(layer.kernel.shape)) * positions
    return total


def test_xception_equals_keras_applications_at_its_native_size(tmp_path: Path) -> None:
    """Parameters (Keras counts batch-norm statistics as well), MACs, and the eval outputs of the
    live Keras model and, through neutral weights, of the torch model, at 299x299."""
    spec = archspec.load(ROOT / "specs" / "xception.yaml")
    keras.utils.set_random_seed(3)
    reference = keras.applications.Xception(weights=None, classifier_activation=None)
    randomize_batch_norm(reference, seed=3)
    statistics = sum(2 * layer.moving_mean.shape[0] for layer in reference.layers if hasattr(layer, "moving_mean"))
    trainable = sum(int(np.prod(v.shape)) for v in reference.trainable_weights)
    assert spec.params == trainable and spec.params + statistics == reference.count_params() == 22_910_480
    assert spec.macs == _keras_macs(reference)
    ours = btf.build(spec)
    btf.load_reference_weights(ours, reference, source="keras")
    x = batch(spec)
    expected = run(reference, x)
    scale = np.abs(expected).max()
    assert np.abs(run(ours, x) - expected).max() <= 1e-4 * scale
    written = load_generated(generate(spec), tmp_path / "xception_keras.py").build()
    written.set_weights(ours.get_weights())
    assert np.array_equal(run(written, x), run(ours, x))
    torch = pytest.importorskip("torch")
    from archspec.backends import torch as bt

    torch_model = bt.build(spec).eval()
    bt.set_weights(torch_model, btf.get_weights(ours))
    with torch.no_grad():
        actual = torch_model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    assert np.abs(actual - expected).max() <= 1e-4 * scale


def test_keras_mapping_names_the_first_tensor_that_does_not_fit() -> None:
    reference = _keras_application("InceptionV3", classes=10)
    spec = archspec.load(ROOT / "specs" / "inception_v3_tf.yaml", input_shape=REFERENCE_INPUT)
    ours = btf.build(spec)
    with pytest.raises(ValueError, match=r"keras variable 'predictions/kernel' has shape \(2048, 10\) but node "):
        btf.load_reference_weights(ours, reference)
    other = btf.build(archspec.load(ROOT / "specs" / "inception_v4.yaml", input_shape=REFERENCE_INPUT))
    with pytest.raises(ValueError, match="has 95 conv/dense layers but 'inception_v4' has 150"):
        btf.load_reference_weights(other, reference)
    with pytest.raises(ValueError, match="unknown reference source 'timm'"):
        btf.load_reference_weights(ours, reference, source="timm")


def archspec_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archspec", *map(str, args)], cwd=ROOT, capture_output=True, text=True)


def _random_weights(spec: Spec) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {
        key: (rng.random(shape, dtype=np.float32) + 0.5)
        if key.endswith("/moving_variance")
        else rng.standard_normal(shape, dtype=np.float32)
        for key, shape in neutral.expected_shapes(spec).items()
    }


def test_convert_moves_every_array_from_torch_through_keras_to_neutral(tmp_path: Path) -> None:
    bt = pytest.importorskip("archspec.backends.torch")
    from safetensors.torch import save_file

    spec_path = tmp_path / "small.yaml"
    spec_path.write_text(SMALL)
    spec = archspec.load(spec_path)
    weights = _random_weights(spec)
    torch_model = bt.build(spec)
    bt.set_weights(torch_model, weights)
    save_file(torch_model.state_dict(), str(tmp_path / "torch.safetensors"))

    to_keras = ("--from", "torch", tmp_path / "torch.safetensors", "--to", "keras", tmp_path / "small.weights.h5")
    result = archspec_cli("convert", spec_path, *to_keras)
    assert result.returncode == 0, result.stderr
    assert "torch -> keras" in result.stdout
    to_neutral = ("--from", "keras", tmp_path / "small.weights.h5", "--to", "neutral", tmp_path / "n.safetensors")
    result = archspec_cli("convert", spec_path, *to_neutral)
    assert result.returncode == 0, result.stderr
    back = neutral.load(tmp_path / "n.safetensors")
    assert back.keys() == weights.keys()
    assert all(np.array_equal(back[k], weights[k]) for k in weights)
    # The Keras file is Keras's own: a built model loads it natively.
    model = btf.build(spec)
    model.load_weights(tmp_path / "small.weights.h5")
    assert all(np.array_equal(v, weights[k]) for k, v in btf.get_weights(model).items())
    # An existing output is kept unless --force is given.
    result = archspec_cli("convert", spec_path, *to_keras)
    assert result.returncode == 1
    assert "small.weights.h5 exists; pass --force to replace it" in result.stderr


def test_convert_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    spec_path = tmp_path / "small.yaml"
    spec_path.write_text(SMALL)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    cases = {
        ("--from", "jax", "a", "--to", "neutral", tmp_path / "b"): (2, "unknown weight format 'jax'"),
        ("--from", "neutral", "a", "--to", "keras", tmp_path / "b.h5"): (2, "Keras weight files end in .weights.h5"),
        ("--from", "neutral", tmp_path / "missing", "--to", "neutral", tmp_path / "b"): (1, "no such file"),
        ("--from", "neutral", tmp_path / "junk.safetensors", "--to", "neutral", tmp_path / "b"): (
            1,
            "cannot read",
        ),
    }
    for args, (code, message) in cases.items():
        result = archspec_cli("convert", spec_path, *args)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
    neutral.save({"stem/kernel": np.zeros((1, 1, 1, 1), np.float32)}, tmp_path / "wrong.safetensors")
    wrong = ("--from", "neutral", tmp_path / "wrong.safetensors", "--to", "neutral", tmp_path / "b")
    result = archspec_cli("convert", spec_path, *wrong)
    assert result.returncode == 1
    assert "'stem/kernel' has shape (1, 1, 1, 1)" in result.stderr
    assert not (tmp_path / "b").exists()


def test_compile_writes_a_keras_file(tmp_path: Path) -> None:
    spec_path = tmp_path / "small.yaml"
    spec_path.write_text(SMALL)
    result = archspec_cli("compile", spec_path, "--backend", "tf", "-o", tmp_path / "small_model.py")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "small_model.py").read_text() == generate(archspec.load(spec_path))
