"""`archspec import`: a PyTorch model traced into a spec with blocks, block types, parameters
and repeats, whose model, given the imported weights, computes what the original does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from archspec.backends.torch import build, set_weights  # noqa: E402
from support import ROOT, run_archspec  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import archspec  # noqa: E402
from archspec.importers import torch as importer  # noqa: E402
from archspec.weights import neutral  # noqa: E402
from benchmarks.reference import import_timm, import_torchvision  # noqa: E402


def reference(source: str, name: str) -> nn.Module:
    torch.manual_seed(0)
    if source == "timm":
        return import_timm().create_model(name)
    models = import_torchvision().models
    if name == "deeplabv3_resnet50":  # no backbone weights to download: random init throughout
        return models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None)
    extra = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    return getattr(models, name)(**extra)


MODELS = [
    ("timm", "inception_v3", None),
    ("timm", "inception_v4", None),
    ("timm", "inception_resnet_v2", None),
    ("torchvision", "googlenet", (224, 224, 3)),
    ("torchvision", "resnet50", (224, 224, 3)),
    ("torchvision", "mobilenet_v3_large", (224, 224, 3)),  # hardswish, and SE gates by hardsigmoid
    ("torchvision", "densenet121", (224, 224, 3)),  # batch norms before convs
    ("torchvision", "convnext_tiny", (224, 224, 3)),  # channels-last layer norms, linears, layer scales
    ("torchvision", "efficientnet_b0", (224, 224, 3)),  # stochastic depth
    ("torchvision", "deeplabv3_resnet50", (128, 128, 3)),  # dilations, resizes to another map's size
    ("torchvision", "alexnet", (256, 256, 3)),  # adaptive pooling of 7x7 to 6x6, overlapping windows
    ("torchvision", "shufflenet_v2_x0_5", (224, 224, 3)),  # chunk, and shuffles by view-transpose-view
]


def randomize_statistics(model: nn.Module) -> None:
    """Batch-norm statistics, layer-norm weights and layer scales that are not their initial
    values (a layer scale starts at 1e-6: a block computed wrongly would hardly show), so that
    they count."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            if isinstance(module, nn.LayerNorm | nn.GroupNorm) and module.weight is not None:
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            for name, parameter in module.named_parameters(recurse=False):
                if "scale" in name or "gamma" in name:  # torchvision's layer_scale, timm's gamma
                    parameter.copy_(torch.rand(parameter.shape, generator=generator) * 0.5 + 0.25)


def outputs(value: Any) -> torch.Tensor:
    """A model's one output (a segmentation model's {"out": ...})."""
    return next(iter(value.values())) if isinstance(value, dict) else value


@pytest.mark.parametrize(("source", "name", "shape"), MODELS)
def test_an_imported_model_has_the_original_s_counts_and_outputs(source: str, name: str, shape: Any) -> None:
    model = reference(source, name).eval()
    randomize_statistics(model)
    imported = importer.import_model(model, input_shape=shape, name=name, source=f"{source} {name}")
    spec = archspec.load(imported.text)  # what `archspec check` reads
    assert spec.params == sum(p.numel() for p in model.parameters())
    height, width, channels = spec.input_shape
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, channels, height, width))
    assert 2 * spec.macs == counter.get_total_flops()
    assert imported.difference <= 1e-12  # in float64: the same computation
    # In float32, as a user runs it: within 1e-5 of the largest output.
    built = build(spec).eval()
    set_weights(built, imported.weights)
    x = torch.randn(2, channels, height, width, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected, found = outputs(model(x)), built(x)
    assert float((expected - found).abs().max() / expected.abs().max()) <= 1e-5


def test_inception_v4_is_blocks_types_and_repeats_not_a_flat_list() -> None:
    model = reference("timm", "inception_v4")
    imported = importer.import_model(model, name="inception_v4")
    spec = imported.spec
    runs = {step.type: 0 for step in spec.steps}
    for step in spec.steps:
        runs[step.type] += 1
    assert {k: runs[k] for k in ("inception_a", "reduction_a", "inception_b", "reduction_b", "inception_c")} == {
        "inception_a": 4,
        "reduction_a": 1,
        "inception_b": 7,
        "reduction_b": 1,
        "inception_c": 3,
    }
    text = imported.text
    for repeat in (
        "{block: inception_a, repeat: 4",
        "{block: inception_b, repeat: 7",
        "{block: inception_c, repeat: 3",
    ):
        assert repeat in text
    bundled = len((ROOT / "specs" / "inception_v4.yaml").read_text().splitlines())
    assert len(text.splitlines()) <= 1.5 * bundled
    assert len(spec.nodes) > 150  # what the few lines expand to


def test_the_comparison_fails_when_a_weight_is_wrong() -> None:
    model = reference("torchvision", "resnet50").eval()
    imported = importer.import_model(model, input_shape=(64, 64, 3))
    weights = dict(imported.weights)
    key = neutral.key("layer3_2/conv2", "kernel")
    weights[key] = weights[key] * 1.01
    assert importer.compare(model, imported.spec, weights) > 1e-4


class Stem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class Mix(nn.Module):
    """Two branches, one with nested branches, concatenated, then a scaled residual add."""

    def __init__(self, channels: int, wide: int, scale: float) -> None:
        super().__init__()
        self.left = nn.Sequential(nn.Conv2d(channels, wide, 1), nn.ReLU())
        self.right = nn.Conv2d(channels, 8, 3, padding=1)
        self.right_a = nn.Conv2d(8, 4, (1, 3), padding=(0, 1))
        self.right_b = nn.MaxPool2d(3, stride=1, padding=1)
        self.up = nn.Conv2d(wide + 12, channels, 1)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        right = self.right(x)
        joined = torch.cat([self.left(x), torch.cat([self.right_a(right), self.right_b(right)], 1)], 1)
        return torch.relu(x + self.up(joined) * self.scale)


class Net(nn.Module):
    def __init__(self, head: nn.Module | None = None) -> None:
        super().__init__()
        self.stem = Stem()
        self.blocks = nn.Sequential(
            Mix(16, 8, 0.2), Mix(16, 8, 0.2), Mix(16, 8, 0.2), Mix(16, 24, 0.2), Mix(16, 8, 1.0)
        )
        self.head = head or nn.Identity()
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        x = nn.functional.avg_pool2d(x, 2)
        return self.fc(x.view(x.size(0), -1))


def test_structure_types_parameters_repeats_and_a_flatten_into_dense() -> None:
    model = Net().eval()
    randomize_statistics(model)
    imported = importer.import_model(model, input_shape=(16, 16, 3), name="net")
    text = imported.text
    assert "  mix:\n    params: {left_0_filters: 8, scale: 0.2}\n" in text
    assert "{block: mix, repeat: 3, names: [blocks_0, blocks_1, blocks_2]}" in text
    assert "{block: mix, name: blocks_3, with: {left_0_filters: 24}}" in text
    assert "{block: mix, name: blocks_4, with: {scale: 1.0}}" in text
    assert "{op: add, shortcut: input, scale: $scale, activation: relu}" in text
    assert "          right:\n" in text  # the branch of `right`, `right_a` and `right_b`
    assert "right_a: [{op: conv, kernel: 1x3, filters: 4, bn: false, activation: none}]" in text
    assert imported.difference <= 1e-12
    # The dense layer reads a flattened 4x4 map: its kernel rows were reordered from PyTorch's
    # C, H, W to the spec's H, W, C, or the outputs above would differ.
    assert imported.spec.shapes["avgpool"] == (4, 4, 16) and imported.spec.shapes["flatten"] == (256,)


class Grow(nn.Module):
    """A dense block's layer: its input and its output concatenated (a concat that reads its fork)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, torch.relu(self.bn(self.conv(x)))], 1)


class Gate(nn.Module):
    """A squeeze-and-excitation gate: the input times a function of itself."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reduce, self.expand = nn.Conv2d(channels, 2, 1), nn.Conv2d(2, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.expand(torch.relu(self.reduce(x.mean((2, 3), keepdim=True)))))


def test_joins_that_are_not_branches_name_their_operands() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Sequential(Grow(8), Grow(12), Grow(16)), Gate(20)).eval()
    randomize_statistics(model)
    imported = importer.import_model(model, input_shape=(16, 16, 3))
    text = imported.text
    assert "  grow:\n    body:\n      - {op: conv, name: conv, kernel: 3x3, filters: 4, bias: true}\n" in text
    assert "      - {op: concat, inputs: [input, conv]}\n" in text
    assert "      - {op: multiply, inputs: [input, expand]}\n" in text
    assert "  - {block: grow, repeat: 3}\n" in text  # modules named by an index: grow_1 .. grow_3
    assert imported.spec.output_shape == (14, 14, 20) and imported.difference <= 1e-12  # a valid 3x3 first


class GateFirst(Gate):
    """The same gate written as torchvision's SqueezeExcitation writes it: `scale * input`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.expand(torch.relu(self.reduce(x.mean((2, 3), keepdim=True))))) * x


def test_a_gate_written_before_its_map_imports_as_map_times_gate() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), GateFirst(8), nn.Conv2d(8, 4, 1)).eval()
    imported = importer.import_model(model, input_shape=(12, 12, 3))
    assert "{op: multiply, inputs: [input, expand]}" in imported.text
    assert imported.spec.output_shape == (10, 10, 4) and imported.difference <= 1e-12


def test_torchvision_s_squeeze_excitation_imports() -> None:
    from benchmarks.reference import import_torchvision

    try:
        ops = import_torchvision().ops
    except Exception as exc:  # an import that fails for any reason is this machine's, not archspec's
        pytest.skip(f"torchvision does not import here: {exc}")
    model = nn.Sequential(nn.Conv2d(3, 16, 3), ops.SqueezeExcitation(16, 4), nn.Conv2d(16, 4, 1)).eval()
    imported = importer.import_model(model, input_shape=(12, 12, 3))
    assert "multiply" in imported.text and imported.difference <= 1e-12


class PreActivation(nn.Module):
    """A pre-activation residual unit (ResNet-v2's), and a conv, ReLU, batch norm in that order."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1, self.conv1 = nn.BatchNorm2d(8), nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(8, affine=False), nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.post = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU(), nn.BatchNorm2d(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.conv1(torch.relu(self.bn1(x)))
        return self.post(x + self.conv2(torch.relu(self.bn2(y))))


def test_a_batch_norm_no_conv_holds_is_a_step_and_keeps_its_place() -> None:
    model = PreActivation().eval()
    randomize_statistics(model)
    imported = importer.import_model(model, input_shape=(10, 10, 3))
    assert "{op: batch_norm, name: bn1, activation: relu}" in imported.text  # before a conv: its own step
    assert "{op: batch_norm, name: post_2}" in imported.text  # after the ReLU, not joined before it
    assert imported.difference <= 1e-12
    built = build(imported.spec).eval()
    set_weights(built, imported.weights)
    x = torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(model(x), built(x), rtol=1e-5, atol=1e-6)


class Idioms(nn.Module):
    """The torch idioms of today's CNNs around the ops: chunks, splits and channel subscripts, a
    shuffle written as reshape-permute-reshape, a channels-last region, a layer scale, resizes to a
    factor and to another tensor's size, a group norm, stochastic depth and adaptive pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 12, 3, stride=2, padding=1)
        self.norm = nn.GroupNorm(3, 12)
        self.pointwise = nn.Linear(6, 6)
        self.ln = nn.LayerNorm(6)
        self.gamma = nn.Parameter(torch.rand(6) + 0.5)
        self.drop = StochasticDepth(0.2, "row")
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.pool = nn.AdaptiveAvgPool2d((3, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.stem(x))
        a, b = y.chunk(2, dim=1)
        c, d = torch.split(b, [2, 4], dim=1)
        last = a.permute(0, 2, 3, 1)
        last = self.ln(nn.functional.gelu(self.pointwise(last))) * self.gamma
        a = self.drop(last.permute(0, 3, 1, 2)) + a
        y = torch.cat([a, d, c, y[:, 10:]], dim=1)
        n, channels, h, w = y.shape
        y = y.reshape(n, 2, channels // 2, h, w).permute(0, 2, 1, 3, 4).reshape(n, channels, h, w)
        y = nn.functional.interpolate(self.up(y), size=x.shape[-2:], mode="bilinear", align_corners=True)
        return self.pool(y)


def test_the_idioms_around_the_new_ops_import_exactly() -> None:
    model = Idioms().eval()
    imported = importer.import_model(model, input_shape=(10, 14, 3))
    assert imported.difference <= 1e-12
    kinds = {node.op for node in imported.spec.nodes}
    expected = {"group_norm", "channel_slice", "layer_norm", "layer_scale", "drop_path", "channel_shuffle", "resize",
                "adaptive_avgpool"}  # fmt: skip
    assert expected <= kinds
    assert re.search(r"\{op: resize, name: \w+, like: input, mode: bilinear, align_corners: true\}", imported.text)
    assert imported.spec.output_shape == (3, 2, 14)  # 6 + 4 + 2 + 2 channels joined


class Norm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = nn.LayerNorm([8, 14, 14])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class OverWidth(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class PaddedConv(nn.Conv2d):
    """A conv subclass that computes more than a conv (timm's Conv2dSame pads in its forward)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (0, 1, 0, 1)))


class StochasticDepth(nn.Module):
    """torchvision's StochasticDepth as the importer knows it: by its name, `p` and `mode`."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Permutes(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 1, 3)


class ChannelsLastPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.max_pool2d(x.permute(0, 2, 3, 1), 2)


class Sorts(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x, dim=1).values


class Branchy(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (Norm(), "norm (LayerNorm): over 3 dimensions, not the channels"),
        (OverWidth(), "norm (LayerNorm): over the last dimension of a map (its width), not its channels"),
        (nn.Sequential(PaddedConv(3, 4, 3)), "0 (PaddedConv): a Conv2d whose forward computes more than a conv"),
        (
            nn.Sequential(nn.Conv2d(3, 4, 3), nn.Softmax(dim=-1)),
            "1 (Softmax): softmax along the last dimension of a map",
        ),
        (
            nn.Sequential(nn.Upsample(scale_factor=1.5)),
            "a resize by 1.5; archspec resizes by whole factors or to a size",
        ),
        (nn.Sequential(nn.Upsample(scale_factor=2, mode="bicubic")), "interpolation mode 'bicubic'"),
        (nn.Sequential(StochasticDepth(0.1, "batch")), "0 (StochasticDepth): stochastic depth of mode 'batch'"),
        (Permutes(), "a permute to (0, 2, 1, 3); archspec follows channels-last maps (0, 2, 3, 1) and back"),
        (ChannelsLastPool(), "'max_pool2d' on a channels-last map"),
        (Sorts(), "the model's forward: no archspec op for torch.sort"),
        (Branchy(), "torch.fx cannot trace the model"),
        (nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU(approximate="tanh")), "1 (GELU): GELU(approximate='tanh')"),
        (nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False)), "0 (BatchNorm2d): batch norm without running"),
    ],
)
def test_an_op_archspec_has_not_is_an_error_that_names_it(model: nn.Module, message: str) -> None:
    with pytest.raises(importer.ImportFailure) as caught:
        importer.import_model(model, input_shape=(16, 16, 3))
    assert message in str(caught.value)


MODEL_FILE = """
import torch
from torch import nn


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def small():
    torch.manual_seed(0)
    return Small()


def layer_norm():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.LayerNorm(4))
"""


def test_the_command_writes_a_spec_that_checks_and_weights_that_fit(tmp_path: Path) -> None:
    (tmp_path / "models.py").write_text(MODEL_FILE)
    done = run_archspec(
        "import",
        "models.py:small",
        "--input",
        "32x32x3",
        "-o",
        "small.yaml",
        "--weights",
        "small.safetensors",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote small.yaml" in done.stdout and "small.safetensors" in done.stdout
    check = run_archspec("check", "small.yaml", cwd=tmp_path)
    assert check.returncode == 0 and "32x32x3 -> 5" in check.stdout
    spec = archspec.load(tmp_path / "small.yaml")
    model = build(spec).eval()
    set_weights(model, neutral.load(tmp_path / "small.safetensors"))
    import importlib.util

    loaded = importlib.util.spec_from_file_location("models_under_test", tmp_path / "models.py")
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    original = module.small().eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert np.allclose(original(x).numpy(), model(x).numpy(), atol=1e-5)
    same = run_archspec(
        "import", "models.py:small", "--input", "32x32x3", "-o", "x.yaml", "--weights", "x.yaml", cwd=tmp_path
    )
    assert same.returncode == 2 and "name the same file" in same.stderr and not (tmp_path / "x.yaml").exists()
    # Nothing is replaced without --force.
    again = run_archspec("import", "models.py:small", "--input", "32x32x3", "-o", "small.yaml", cwd=tmp_path)
    assert again.returncode == 1 and "small.yaml exists; pass --force" in again.stderr


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (
            "models.py:layer_norm",
            "error: 1 (LayerNorm): over the last dimension of a map (its width), not its channels",
        ),
        ("models.py:nothing", "error: models.py has no 'nothing'"),
        ("no_such_module_anywhere:f", "error: cannot import no_such_module_anywhere"),
        ("models.py", "error: expected MODULE:FACTORY"),
    ],
)
def test_the_command_reports_what_it_cannot_import_without_traceback(
    factory: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "models.py").write_text(MODEL_FILE)
    done = run_archspec("import", factory, "--input", "32x32x3", "-o", "out.yaml", cwd=tmp_path)
    assert done.returncode in (1, 2) and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out.yaml").exists()


def test_a_spec_name_comes_from_any_file_name_and_never_overwrites_the_imported_module(tmp_path: Path) -> None:
    """`-o my-model.yaml` names the spec `my_model`; a module named as a module (`models`, not
    `models.py`) is an input all the same, never written over, --force or not."""
    (tmp_path / "models.py").write_text(MODEL_FILE)
    done = run_archspec("import", "models.py:small", "--input", "32x32x3", "-o", "my-model.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "name: my_model\n" in (tmp_path / "my-model.yaml").read_text()
    assert run_archspec("check", "my-model.yaml", cwd=tmp_path).returncode == 0
    over = run_archspec("import", "models:small", "--input", "32x32x3", "-o", "models.py", "--force", cwd=tmp_path)
    assert over.returncode == 1 and "models.py is an input of this command" in over.stderr, over.stderr
    assert (tmp_path / "models.py").read_text() == MODEL_FILE


def test_a_pretrained_config_a_spec_cannot_hold_is_left_out_with_a_note() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    model.pretrained_cfg = {  # type: ignore[assignment]
        "input_size": (3, 12, 12), "mean": (0.5, float("nan"), 0.5), "std": (0.0, 0.2, 0.2), "crop_pct": 0.9,
    }  # fmt: skip
    imported = importer.import_model(model)
    assert "mean" not in imported.text.split("input:")[1].splitlines()[0]
    assert imported.spec.preprocess is not None and imported.spec.preprocess.crop_pct == 0.9
    mean, std = imported.notes
    assert mean.startswith("the model's pretrained config has mean (0.5, nan, 0.5)"), mean
    assert std.startswith("the model's pretrained config has std (0.0, 0.2, 0.2)"), std
