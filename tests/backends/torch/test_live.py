"""The PyTorch backend against the IR: every bundled spec built, generated, run and compared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import NETWORKS, SMALL_INPUT, SMALL_NETWORKS, load_generated, randomize_batch_norm

import archspec
from archspec.weights import neutral

torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")
from archspec.backends.torch.codegen import generate  # noqa: E402
from support import ROOT  # noqa: E402

from benchmarks.reference import import_timm  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"


# Every bundled network runs at 107x107 here (the smallest size common to all of them is 75):
# parameters do not depend on the input size, and the tests run in seconds, not minutes.


@pytest.fixture(scope="module", params=SMALL_NETWORKS, ids=lambda p: p.stem)
def case(request: pytest.FixtureRequest) -> tuple[archspec.Spec, torch.nn.Module]:
    spec = archspec.load(request.param, input_shape=SMALL_INPUT)
    torch.manual_seed(0)
    model = bt.build(spec).eval()
    randomize_batch_norm(model)
    return spec, model


def test_parameter_count_and_output_shape_match_the_ir(case: tuple[archspec.Spec, torch.nn.Module]) -> None:
    spec, model = case
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == spec.params
    h, w, c = spec.input_shape
    with torch.no_grad():
        out = model(torch.randn(1, c, h, w))
    out = out.permute(0, 2, 3, 1) if out.dim() == 4 else out  # a segmentation map, in the IR's H, W, C
    assert tuple(out.shape[1:]) == spec.output_shape
    assert torch.isfinite(out).all()


def test_generated_source_matches_the_built_model(case: tuple[archspec.Spec, torch.nn.Module], tmp_path: Path) -> None:
    spec, model = case
    source = generate(spec)
    assert source == generate(spec)  # deterministic
    assert "archspec" not in [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    generated = load_generated(source, tmp_path / f"generated_{spec.name}.py").build().eval()
    assert list(generated.state_dict()) == list(model.state_dict())
    generated.load_state_dict(model.state_dict())
    h, w, c = spec.input_shape
    x = torch.randn(2, c, h, w)
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(generated(x), expected)
        assert hasattr(generated, "forward_head") == (spec.classifier is not None)  # a segmentation net has none
        if spec.classifier is not None:
            assert torch.equal(generated.forward_head(generated.forward_features(x)), expected)
            assert torch.equal(model.forward_head(model.forward_features(x)), expected)


def test_generated_source_passes_ruff(tmp_path: Path) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this Python")
    for path in NETWORKS:
        target = tmp_path / f"{path.stem}_model.py"
        target.write_text(generate(archspec.load(path)))
    config = ROOT / "pyproject.toml"
    result = subprocess.run(
        [str(ruff), "check", "--config", str(config), str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_neutral_weights_round_trip(case: tuple[archspec.Spec, torch.nn.Module], tmp_path: Path) -> None:
    spec, model = case
    weights = bt.get_weights(model)
    assert {k: v.shape for k, v in weights.items()} == neutral.expected_shapes(spec)
    neutral.save(weights, tmp_path / "w.safetensors")
    loaded = neutral.load(tmp_path / "w.safetensors")
    torch.manual_seed(1)
    other = bt.build(spec).eval()
    bt.set_weights(other, loaded)
    h, w, c = spec.input_shape
    x = torch.randn(1, c, h, w)
    with torch.no_grad():
        assert torch.equal(other(x), model(x))


def test_set_weights_names_the_first_bad_array() -> None:
    spec = archspec.load(ROOT / "specs" / "inception_v4.yaml")
    model = bt.build(spec)
    weights = bt.get_weights(model)
    weights["stem/conv2d_1a/kernel"] = np.zeros((3, 3, 3, 31), np.float32)
    with pytest.raises(ValueError, match=r"'stem/conv2d_1a/kernel' has shape \(3, 3, 3, 31\)"):
        bt.set_weights(model, weights)
    del weights["stem/conv2d_1a/kernel"]
    with pytest.raises(ValueError, match="lack 'stem/conv2d_1a/kernel'"):
        bt.set_weights(model, weights)


TIMM = {"inception_v3": "fc", "inception_v4": "last_linear", "inception_resnet_v2": "classif"}


def timm_like_state_dict(model: str) -> dict[str, torch.Tensor]:
    """A state_dict with timm's key names and shapes (from the committed fixture), random values."""
    table = json.loads((FIXTURES / f"timm_{model}.json").read_text())["state_dict"]
    generator = torch.Generator().manual_seed(7)
    return {key: torch.rand(shape, generator=generator) for key, shape in table}


@pytest.mark.parametrize("model", TIMM)
def test_timm_mapping_places_every_tensor(model: str) -> None:
    """Every tensor of timm's layout lands in a node whose role and shape fit, in order."""
    state = timm_like_state_dict(model)
    ours = bt.build(archspec.load(ROOT / "specs" / f"{model}.yaml"))
    bt.load_reference_weights(ours, state, source="timm")
    mine = ours.state_dict()
    ours_values = [v for k, v in mine.items() if not k.endswith("num_batches_tracked")]
    theirs = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    assert len(ours_values) == len(theirs)
    for a, b in zip(ours_values, theirs, strict=True):
        assert torch.equal(a, b)
    classifier = TIMM[model]
    assert torch.equal(ours.node_modules["head/logits"].weight, state[f"{classifier}.weight"])


def test_timm_mapping_names_the_first_tensor_that_does_not_fit() -> None:
    state = timm_like_state_dict("inception_v4")
    state["features.6.branch1.1.conv.weight"] = torch.zeros(96, 64, 5, 5)
    model = bt.build(archspec.load(ROOT / "specs" / "inception_v4.yaml"))
    with pytest.raises(ValueError, match=r"'features\.6\.branch1\.1\.conv\.weight' has shape \(96, 64, 5, 5\)"):
        bt.load_reference_weights(model, state)
    with pytest.raises(ValueError, match="has 150 conv/linear layers but 'inception_v3' has 95"):
        bt.load_reference_weights(bt.build(archspec.load(ROOT / "specs" / "inception_v3.yaml")), state)


def test_outputs_equal_timm_after_loading_its_weights() -> None:
    timm = import_timm()
    for name in TIMM:
        reference = timm.create_model(name, pretrained=False).eval()
        randomize_batch_norm(reference, seed=3)
        ours = bt.build(archspec.load(ROOT / "specs" / f"{name}.yaml")).eval()
        bt.load_reference_weights(ours, reference.state_dict(), source="timm")
        x = torch.randn(2, 3, 299, 299)
        with torch.no_grad():
            assert (ours(x) - reference(x)).abs().max().item() <= 1e-4, name


def test_saved_weights_keep_transposed_layouts(tmp_path: Path) -> None:
    """A transposed (non-contiguous) array must be stored in its logical order."""
    kernel = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(5, 4, 2, 3).transpose(2, 3, 1, 0)
    neutral.save({"k": kernel}, tmp_path / "w.safetensors")
    assert np.array_equal(neutral.load(tmp_path / "w.safetensors")["k"], kernel)


def test_get_weights_is_a_snapshot() -> None:
    model = bt.build(archspec.load(ROOT / "specs" / "examples" / "inception_v4_small.yaml", input_shape=(75, 75, 3)))
    weights = bt.get_weights(model)
    with torch.no_grad():
        model.node_modules["stem/conv2d_1a"].bn.bias.add_(1.0)
    assert not np.array_equal(weights["stem/conv2d_1a/beta"], bt.get_weights(model)["stem/conv2d_1a/beta"])


HOSTILE = """
input: {shape: [16, 16, 3]}
blocks:
  max_pool:
    body:
      - {op: conv, name: max_pool, kernel: 3x3, filters: 4}
      - {op: maxpool, name: avg_pool, kernel: 3x3, stride: 2}
      - {op: conv, name: self, kernel: 1x1, filters: 4}
      - {op: conv, name: training, kernel: 1x1, filters: 4}
      - {op: conv, name: class, kernel: 1x1, filters: 4}
      - {op: add, name: residual_add, shortcut: self, activation: relu}
network:
  - {block: max_pool, name: forward}
  - {block: max_pool, name: torch}
  - {op: global_avgpool, name: ACTIVATIONS}
  - {op: dense, name: build, units: 3}
"""


def test_generated_names_cannot_shadow_or_inject(tmp_path: Path) -> None:
    """Names that collide with helpers, keywords, nn.Module attributes and imports are renamed,
    and the file still computes what the built model computes."""
    spec = archspec.load(HOSTILE)
    source = generate(spec)
    model = bt.build(spec).eval()
    generated = load_generated(source, tmp_path / "hostile.py").build().eval()
    assert list(generated.state_dict()) == list(model.state_dict())
    generated.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(generated(x), model(x))


@pytest.mark.parametrize("name", ['"x\\nimport os"', "\"a'); import os; ('\"", "__import__('os')"])
def test_names_that_are_not_identifiers_are_rejected(name: str) -> None:
    with pytest.raises(archspec.SpecError, match=r"not a valid name|must be"):
        archspec.load(f"input: {{shape: [8, 8, 3]}}\nnetwork:\n  - {{op: conv, name: {name}, kernel: 1, filters: 2}}\n")


def test_weights_follow_the_spec_not_requires_grad() -> None:
    """Freezing a model (as an EMA copy is) must not change which arrays its weights have."""
    import copy

    model = bt.build(archspec.load(ROOT / "specs" / "examples" / "inception_v4_small.yaml", input_shape=(75, 75, 3)))
    frozen = copy.deepcopy(model).requires_grad_(False)
    assert set(bt.get_weights(frozen)) == set(bt.get_weights(model))
    bt.set_weights(frozen, bt.get_weights(model))


def test_a_deep_copy_follows_its_own_train_and_eval() -> None:
    import copy

    model = bt.build(archspec.load(ROOT / "specs" / "examples" / "inception_v4_small.yaml", input_shape=(75, 75, 3)))
    model.train()
    copied = copy.deepcopy(model).eval()
    x = torch.randn(2, 3, 75, 75)
    with torch.no_grad():
        assert torch.equal(copied(x), copied(x))  # dropout off in the copy, although the original trains
    assert copied.spec is model.spec


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_explicit_pads_and_ceil_mode_follow_pytorch_s_own_pools(kind: str) -> None:
    """The padded pools (used for asymmetric pads) give what PyTorch's pools give, ceil mode and
    the divisor of an average included, for every size, window, stride and pad PyTorch allows."""
    from archspec.backends.torch import layers

    from archspec.ops.padding import output_size

    native = {"max": torch.nn.functional.max_pool2d, "avg": torch.nn.functional.avg_pool2d}[kind]
    generator = torch.Generator().manual_seed(0)
    checked = 0
    for size in range(3, 12):
        for k in (2, 3, 5):
            for s in (1, 2, 3):
                for p in range(k // 2 + 1):
                    if size + 2 * p < k:
                        continue
                    for ceil in (False, True):
                        for include in (False, True) if kind == "avg" else (False,):
                            x = torch.randn(1, 2, size, size + 1, generator=generator)
                            options = {"count_include_pad": include} if kind == "avg" else {}
                            expected = native(x, k, s, p, ceil_mode=ceil, **options)
                            pads = (p, p, p, p)
                            if kind == "max":
                                ours = layers.PaddedMaxPool((k, k), (s, s), pads, ceil)(x)
                            else:
                                ours = layers.PaddedAvgPool((k, k), (s, s), pads, include, ceil)(x)
                            assert ours.shape == expected.shape, (size, k, s, p, ceil)
                            assert expected.shape[-2] == output_size(size, k, s, (p, p), ceil)  # the shape rule
                            torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-6)
                            checked += 1
    assert checked > 200


def test_generated_modules_are_reused_per_text_and_bounded() -> None:
    from archspec.codegen import source

    spec = archspec.load(ROOT / "specs" / "examples" / "inception_v4_small.yaml", input_shape=SMALL_INPUT)
    first, second = bt.build(spec), bt.build(spec)
    assert type(first) is type(second)  # one module per distinct text
    before = {name for name in sys.modules if name.startswith("archspec_generated_")}
    for width in range(source.KEPT + 5):
        text = (
            f"archspec: 1\ninput: {{shape: [4, 4, 3]}}\nnetwork:\n  - {{op: conv, kernel: 1, filters: {width + 1}}}\n"
        )
        bt.build(archspec.load(text))
    after = {name for name in sys.modules if name.startswith("archspec_generated_")}
    assert len(after) <= source.KEPT < len(after | before)
    assert type(first)(), "a model built before its module was dropped still builds from its class"
