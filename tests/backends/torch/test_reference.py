"""The bundled specs of torchvision's networks equal torchvision's models: the parameter count,
MACs equal to torch.utils.flop_counter's count / 2 at batch 1, and, after the reference weights
are loaded (random init, batch-norm statistics randomised), the eval outputs at the native input
size (a smaller one for the networks in OUTPUTS_INPUT), in the live torch model, the torch file
`compile` writes, and, through neutral weights, the live and the written Keras model.

Besides the bundled specs, `tests/readme_written/` holds networks written from the README's tour
alone, as a new user would write them (ResNet-18 and MobileNetV2, with PyTorch's explicit padding
and, in MobileNetV2, depthwise convs; VGG-16-BN, whose head flattens a map, which PyTorch does in
C, H, W order and archspec in H, W, C); they must equal torchvision's models in the same ways."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import ROOT, load_generated, randomize_batch_norm

import archspec

torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")
from archspec.backends.torch.codegen import generate as generate_torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

SPECS = ROOT / "specs"
README_WRITTEN = ROOT / "tests" / "readme_written"
TOLERANCE = 1e-4  # max abs difference over the largest output


def torchvision_models() -> Any:
    from benchmarks.reference import import_torchvision

    try:
        return import_torchvision().models
    except Exception as exc:  # an import that fails for any reason is this machine's, not archspec's
        pytest.skip(f"torchvision does not import here: {exc}")


def with_aux_head(model: Any, x: Any) -> list[Any]:
    """torchvision's Inception-v3 runs its auxiliary head only in training: in eval mode, run it
    on Mixed_6e's output, as the training forward does."""
    found: list[Any] = []
    hook = model.Mixed_6e.register_forward_hook(lambda module, args, output: found.append(output))
    try:
        logits = model(x)
    finally:
        hook.remove()
    return [logits, model.AuxLogits(found[0])]


def with_random_scales(model: Any) -> Any:
    """ConvNeXt starts every layer scale at 1e-6, so that each block's branch adds about a millionth
    of its input: outputs within the tolerance would say nothing about the branches (a block with
    ReLU in place of GELU passes). Random layer scales, and random gammas and betas for the layer
    norms, make the outputs depend on every layer of every block."""
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            leaf = name.rpartition(".")[2]
            if leaf == "layer_scale":
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.5 + 0.25)
            elif tensor.dim() == 1 and isinstance(model.get_submodule(name.rpartition(".")[0]), torch.nn.LayerNorm):
                offset = 0.5 if leaf == "weight" else -0.5
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + offset)
    return model


NETWORKS: dict[str, tuple[Callable[[Any], Any], int, Callable[[Any, Any], list[Any]]]] = {
    "googlenet": (
        lambda tvm: tvm.googlenet(weights=None, aux_logits=False, init_weights=True),
        6_624_904,
        lambda model, x: [model(x)],
    ),
    "inception_v3_aux": (
        lambda tvm: tvm.inception_v3(weights=None, aux_logits=True, init_weights=True),
        27_161_264,
        with_aux_head,
    ),
    "resnet50": (lambda tvm: tvm.resnet50(weights=None), 25_557_032, lambda model, x: [model(x)]),
    "resnet18": (lambda tvm: tvm.resnet18(weights=None), 11_689_512, lambda model, x: [model(x)]),
    "mobilenet_v2": (lambda tvm: tvm.mobilenet_v2(weights=None), 3_504_872, lambda model, x: [model(x)]),
    "vgg16_bn": (lambda tvm: tvm.vgg16_bn(weights=None), 138_365_992, lambda model, x: [model(x)]),
    "densenet121": (lambda tvm: tvm.densenet121(weights=None), 7_978_856, lambda model, x: [model(x)]),
    "mobilenet_v3_large": (lambda tvm: tvm.mobilenet_v3_large(weights=None), 5_483_032, lambda model, x: [model(x)]),
    "convnext_tiny": (
        lambda tvm: with_random_scales(tvm.convnext_tiny(weights=None)),
        28_589_128,
        lambda model, x: [model(x)],
    ),
    "deeplabv3_resnet50": (
        lambda tvm: tvm.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None),
        39_638_869,
        lambda model, x: [model(x)["out"]],
    ),
}
# The outputs test runs these networks at a smaller input than their native one, to be quick. For
# DeepLabv3 (native 520x520): odd sides, so that no bilinear resize has a whole-number scale, and
# unequal ones, so that a resize that swapped height and width would fail; the backbone's map is
# 37x17, so along the height even the ASPP's 3x3 convs of dilation 36 read cells inside the map
# (at 129x129 it is 17x17, and dilations 24 and 36 read only padding beside the centre).
OUTPUTS_INPUT: dict[str, tuple[int, int, int]] = {"deeplabv3_resnet50": (289, 129, 3)}


def spec_path(name: str) -> Path:
    bundled = SPECS / f"{name}.yaml"
    return bundled if bundled.is_file() else README_WRITTEN / f"{name}.yaml"


def reference(name: str) -> Any:
    torch.manual_seed(0)
    model = NETWORKS[name][0](torchvision_models())
    randomize_batch_norm(model, seed=1)
    return model.eval()


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def each(outputs: Any) -> list[np.ndarray]:
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_counts_equal_torchvision_s(name: str) -> None:
    spec = archspec.load(spec_path(name))
    theirs = reference(name)
    assert spec.params == NETWORKS[name][1] == sum(p.numel() for p in theirs.parameters())
    height, width, channels = spec.input_shape
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        NETWORKS[name][2](theirs, torch.zeros(1, channels, height, width))
    assert spec.macs * 2 == counter.get_total_flops()


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_outputs_equal_torchvision_s_after_weight_import(name: str, tmp_path: Path) -> None:
    spec = archspec.load(spec_path(name), input_shape=OUTPUTS_INPUT.get(name))
    theirs = reference(name)
    ours = bt.build(spec).eval()
    bt.load_reference_weights(ours, theirs.state_dict(), source="torchvision")
    height, width, channels = spec.input_shape
    x = torch.randn(2, channels, height, width, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = [o.numpy() for o in NETWORKS[name][2](theirs, x)]
        actual = each(ours(x))
    assert len(actual) == len(expected) == len(spec.outputs)
    for ours_out, theirs_out in zip(actual, expected, strict=True):
        assert relative_error(ours_out, theirs_out) <= TOLERANCE
    # The file `archspec compile` writes, imported from disk, with the same weights.
    written = load_generated(generate_torch(spec), tmp_path / f"{name}_torch.py").build().eval()
    written.load_state_dict(ours.state_dict())
    with torch.no_grad():
        assert all(np.array_equal(a, b) for a, b in zip(each(written(x)), actual, strict=True))
    pytest.importorskip("keras")
    from archspec.backends import tensorflow as btf
    from archspec.backends.tensorflow.codegen import generate as generate_keras

    nhwc = x.permute(0, 2, 3, 1).numpy()
    keras_written = load_generated(generate_keras(spec), tmp_path / f"{name}_keras.py").build()
    for keras_model in (btf.build(spec), keras_written):
        btf.set_weights(keras_model, bt.get_weights(ours), spec=spec)
        keras_out = [o.transpose(0, 3, 1, 2) if o.ndim == 4 else o for o in each(keras_model(nhwc, training=False))]
        for ours_out, theirs_out in zip(keras_out, expected, strict=True):
            assert relative_error(ours_out, theirs_out) <= TOLERANCE


# -- weights that do not fit: every source of weights is strict ------------------------------------


def load_vgg_reference(state_dict: dict[str, Any], **overrides: Any) -> None:
    spec = archspec.load(spec_path("vgg16_bn"), **overrides)
    bt.load_reference_weights(bt.build(spec), state_dict, source="torchvision")


def test_a_reference_missing_a_tensor_is_refused_naming_it() -> None:
    state = reference("vgg16_bn").state_dict()
    del state["classifier.6.bias"]
    message = "node 'fc8' needs its bias (1000,), which the torchvision layer 'classifier.6' lacks"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_vgg_reference(state)


def test_a_reference_holding_an_extra_tensor_is_refused_naming_it() -> None:
    state = {**reference("vgg16_bn").state_dict(), "features.1.extra": torch.zeros(64)}
    with pytest.raises(ValueError, match=re.escape("tensor 'features.1.extra' has no place")):
        load_vgg_reference(state)


def test_a_reference_tensor_of_another_layout_is_refused() -> None:
    state = reference("vgg16_bn").state_dict()
    state["features.0.weight"] = state["features.0.weight"].permute(2, 3, 1, 0)  # TensorFlow's layout
    message = "'features.0.weight' has shape (3, 3, 3, 64) but node 'stage1/unit_1/conv'"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_vgg_reference(state)


def test_a_bias_the_spec_has_and_the_reference_lacks_is_refused() -> None:
    """A conv without batch norm has a bias by default; ResNet-18's convs have none, so that spec
    with `bn: false` cannot take its weights (its bias would keep its random start)."""
    spec = archspec.load(spec_path("resnet18"), overrides=["defaults.conv.bn=false"])
    with pytest.raises(
        ValueError, match="node 'conv1' needs its bias \\(64,\\), which the torchvision layer 'conv1' lacks"
    ):
        bt.load_reference_weights(bt.build(spec), reference("resnet18").state_dict(), source="torchvision")


def test_a_bias_the_reference_has_and_the_spec_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("tensor 'features.0.bias' has no place")):
        load_vgg_reference(reference("vgg16_bn").state_dict(), overrides=["defaults.conv.bias=false"])


VGG_SMALL = (32, 32, 3)  # VGG-16-BN's layers with a smaller classifier: files of 140 MB, not 550


def test_weight_files_that_do_not_fit_are_refused_by_convert_and_weights(tmp_path: Path) -> None:
    """`convert` and every `--weights` (export, eval, predict read it through `weights_at`)
    refuse a file missing one array, holding one more, or of another layout."""
    from archspec.errors import ArchspecError
    from archspec.training.checkpoint import weights_at
    from archspec.weights import convert, neutral

    spec = archspec.load(spec_path("vgg16_bn"), input_shape=VGG_SMALL)
    arrays = bt.get_weights(bt.build(spec))
    missing, extra = dict(arrays), {**arrays, "fc8/scale": np.ones(1000, np.float32)}
    del missing["fc7/bias"]
    neutral.save(missing, tmp_path / "missing.safetensors")
    neutral.save(extra, tmp_path / "extra.safetensors")
    convert.write("torch", arrays, tmp_path / "torch.safetensors", spec)
    cases = {
        "missing": "lack 'fc7/bias' \\(4096,\\)",
        "extra": "1 arrays the spec does not use, first 'fc8/scale'",
        "torch": "it holds torch weights, not neutral ones",
    }
    for name, message in cases.items():
        with pytest.raises(ArchspecError, match=message):
            convert.read("neutral", tmp_path / f"{name}.safetensors", spec)
        with pytest.raises(ArchspecError, match=message):
            weights_at(tmp_path / f"{name}.safetensors", spec)
    neutral.save(arrays, tmp_path / "neutral.safetensors")
    with pytest.raises(ArchspecError, match="it holds neutral weights, not torch ones"):
        convert.read("torch", tmp_path / "neutral.safetensors", spec)
