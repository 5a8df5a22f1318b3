"""specs/unet.yaml is the U-Net of Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks
for Biomedical Image Segmentation" (arXiv 1505.04597). No library ships that network, so it is
checked against the paper twice: its shapes at 572x572x1 against Figure 1, stage by stage, and
the whole network against a PyTorch U-Net written here from the paper's Section 2: the same
parameter count and MACs (torch.utils.flop_counter's count / 2), and, with this model's weights
loaded, the same eval outputs in the live torch model and, through neutral weights, in Keras."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import ROOT, load_generated

import archspec

torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")
from archspec.backends.torch.codegen import generate as generate_torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

SPEC = ROOT / "specs" / "unet.yaml"
TOLERANCE = 1e-4  # max abs difference over the largest output
# A smaller input U-Net takes: every map that is pooled has an even size, and the bottom map (28 at
# 572) is at least 4, so the expansive path's convs still fit: 16 * 4 + 124 = 188, out 4x4x2.
SMALL = (188, 188, 1)

# Figure 1, 572x572x1 in: each node's (height, width, channels).
FIGURE_1 = {
    "enc1/conv1": (570, 570, 64),
    "enc1/conv2": (568, 568, 64),
    "enc2/pool": (284, 284, 64),
    "enc2/conv1": (282, 282, 128),
    "enc2/conv2": (280, 280, 128),
    "enc3/pool": (140, 140, 128),
    "enc3/conv1": (138, 138, 256),
    "enc3/conv2": (136, 136, 256),
    "enc4/pool": (68, 68, 256),
    "enc4/conv1": (66, 66, 512),
    "enc4/conv2": (64, 64, 512),
    "enc5/pool": (32, 32, 512),
    "enc5/conv1": (30, 30, 1024),
    "enc5/conv2": (28, 28, 1024),
    "up4": (56, 56, 512),
    "crop4": (56, 56, 512),
    "concat4": (56, 56, 1024),
    "dec4/conv1": (54, 54, 512),
    "dec4/conv2": (52, 52, 512),
    "up3": (104, 104, 256),
    "crop3": (104, 104, 256),
    "concat3": (104, 104, 512),
    "dec3/conv1": (102, 102, 256),
    "dec3/conv2": (100, 100, 256),
    "up2": (200, 200, 128),
    "crop2": (200, 200, 128),
    "concat2": (200, 200, 256),
    "dec2/conv1": (198, 198, 128),
    "dec2/conv2": (196, 196, 128),
    "up1": (392, 392, 64),
    "crop1": (392, 392, 64),
    "concat1": (392, 392, 128),
    "dec1/conv1": (390, 390, 64),
    "dec1/conv2": (388, 388, 64),
    "final": (388, 388, 2),
}


# -- a U-Net from the paper, in PyTorch; modules registered in the order they compute ---------------


class DoubleConv(nn.Sequential):
    """Two unpadded 3x3 convs, each followed by a ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3),
            nn.ReLU(),
        )


def center_crop(x: Any, like: Any) -> Any:
    """The middle of x, of like's height and width."""
    height, width = like.shape[-2:]
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


class Up(nn.Module):
    """An "up-conv 2x2" halving the channels, the cropped copy of the contracting path's map
    joined before it, and two 3x3 convs."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.upconv = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.convs = DoubleConv(2 * out_channels, out_channels)

    def forward(self, x: Any, skip: Any) -> Any:
        up = self.upconv(x)
        return self.convs(torch.cat([center_crop(skip, up), up], dim=1))


class UNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 2, widths: tuple[int, ...] = (64, 128, 256, 512, 1024)):
        super().__init__()
        self.down = nn.ModuleList(
            DoubleConv(cin, cout) for cin, cout in zip((in_channels, *widths[:-1]), widths, strict=True)
        )
        self.pool = nn.MaxPool2d(2, stride=2)
        self.up = nn.ModuleList(Up(cin, cout) for cin, cout in zip(widths[:0:-1], widths[-2::-1], strict=True))
        self.final = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: Any) -> Any:
        copies = []
        for index, level in enumerate(self.down):
            x = level(x if index == 0 else self.pool(x))
            copies.append(x)
        for level, skip in zip(self.up, copies[-2::-1], strict=True):
            x = level(x, skip)
        return self.final(x)


def paper_init(model: Any, seed: int) -> Any:
    """Section 3's initialisation, weights from a Gaussian of standard deviation sqrt(2 / N), N the
    incoming nodes of one neuron (for the 2x2 up-conv of stride 2, its input channels), so that the
    signal neither dies nor grows over the 23 convs; and random biases, so that each is checked."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.ConvTranspose2d):
                fan_in = module.in_channels
            elif isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            else:
                continue
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * math.sqrt(2 / fan_in))
            module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 0.2 - 0.1)
    return model.eval()


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


# -- the tests -------------------------------------------------------------------------------------


def test_shapes_are_figure_1_s() -> None:
    spec = archspec.load(SPEC)
    assert spec.input_shape == (572, 572, 1)
    assert {name: spec.shapes[name] for name in FIGURE_1} == FIGURE_1
    assert [spec.shapes[name] for name in spec.outputs] == [(388, 388, 2)]


def test_counts_equal_the_pytorch_u_net_s() -> None:
    spec = archspec.load(SPEC)
    with torch.device("meta"):  # counts at 572x572 without computing 150 GMACs
        theirs = UNet()
        x = torch.zeros(1, 1, 572, 572)
    assert spec.params == sum(p.numel() for p in theirs.parameters()) == 31_030_658
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = theirs(x)
    assert tuple(out.shape) == (1, 2, 388, 388)
    assert spec.macs * 2 == counter.get_total_flops()


def test_outputs_equal_the_pytorch_u_net_s_after_weight_import(tmp_path: Path) -> None:
    spec = archspec.load(SPEC, input_shape=SMALL)
    theirs = paper_init(UNet(), seed=0)
    ours = bt.build(spec).eval()
    bt.load_reference_weights(ours, theirs.state_dict(), source="torchvision")
    x = torch.randn(2, 1, *SMALL[:2], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = theirs(x).numpy()
        actual = ours(x).numpy()
    assert expected.shape == actual.shape == (2, 2, 4, 4)
    assert relative_error(actual, expected) <= TOLERANCE
    # The file `archspec compile` writes, imported from disk, with the same weights.
    written = load_generated(generate_torch(spec), tmp_path / "unet_torch.py").build().eval()
    written.load_state_dict(ours.state_dict())
    with torch.no_grad():
        assert np.array_equal(written(x).numpy(), actual)
    pytest.importorskip("keras")
    from archspec.backends import tensorflow as btf

    keras_model = btf.build(spec)
    btf.set_weights(keras_model, bt.get_weights(ours), spec=spec)
    keras_out = np.asarray(keras_model(x.permute(0, 2, 3, 1).numpy(), training=False))
    assert relative_error(keras_out, expected.transpose(0, 2, 3, 1)) <= TOLERANCE
