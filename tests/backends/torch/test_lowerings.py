"""The built model's blocks, and the lowerings built on them: regional compilation (one
compilation per block type) and the inference lowering (batch norm folded, sibling convolutions
merged). Their speed on a GPU is measured by benchmarks/gpu_throughput.py, not here."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from support import SMALL_INPUT, SMALL_NETWORKS, randomize_batch_norm

import archspec

torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")
from archspec.backends.torch.inference import SplitConv, for_inference  # noqa: E402
from archspec.backends.torch.regional import compile_blocks  # noqa: E402
from support import ROOT  # noqa: E402
from torch._dynamo.testing import CompileCounter  # noqa: E402

SPECS = ROOT / "specs"

# A later step reads a node inside an earlier block, so that block has two results.
CROSS_STEP = """
archspec: 1
name: cross_step
input: {shape: [16, 16, 3]}
blocks:
  pair:
    body:
      - branches:
          a: [{op: conv, kernel: 1x1, filters: 8}]
          b: [{op: conv, kernel: 1x1, filters: 8}, {op: conv, kernel: 3x3, filters: 8}]
network:
  - {block: pair, name: first}
  - {op: conv, kernel: 3x3, filters: 8}
  - {op: add, shortcut: first/a/conv_0}
  - {block: pair, name: second}
"""


def built(source: Path | str, input_shape: tuple[int, int, int] | None = SMALL_INPUT, seed: int = 0) -> bt.Network:
    torch.manual_seed(seed)
    model = bt.build(archspec.load(source, input_shape=input_shape))
    randomize_batch_norm(model, seed)
    return model.eval()


def image(model: bt.Network, batch: int = 2, seed: int = 1) -> torch.Tensor:
    height, width, channels = model.spec.input_shape
    return torch.randn(batch, channels, height, width, generator=torch.Generator().manual_seed(seed))


def test_blocks_are_modules_with_one_class_and_one_code_object_per_type() -> None:
    model = built(SPECS / "inception_resnet_v2.yaml")
    assert type(model.block17_3).__name__ == "Block17"
    assert type(model.block17_1) is type(model.block17_20)
    assert model.block17_1.forward.__code__ is model.block17_20.forward.__code__
    assert model.block17_1.forward.__code__ is not model.block35_1.forward.__code__
    # Each step of Inception-ResNet-v2 is a block that reads the one before: calling them in turn
    # is the network.
    x = image(model)
    y = x
    for block in model.blocks:
        y = block(y)
    with torch.no_grad():
        assert torch.equal(y, model(x))


def test_a_block_read_inside_by_a_later_step_returns_each_value_read() -> None:
    model = built(CROSS_STEP, input_shape=None)
    x = image(model)
    inner, concat = model.first(x)
    assert inner.shape == (2, 8, 16, 16) and concat.shape == (2, 16, 16, 16)
    expected = model.second(model.first.a.conv_0(x) + model.conv_0(concat))
    with torch.no_grad():
        assert torch.equal(model(x), expected)


def test_compiling_blocks_compiles_each_block_type_once() -> None:
    model = built(SPECS / "examples" / "inception_resnet_v2_tiny.yaml", input_shape=None)
    x = image(model)
    expected = model(x)
    counter = CompileCounter()
    compile_blocks(model, backend=counter)
    assert torch.equal(model(x), expected)
    types = {type(block) for block in model.blocks}
    # The tiny network repeats its residual blocks with one shape and scale each, so every block
    # type is one graph; the last Block8 has no activation and scale 1, so it is one more.
    final_block8 = model.blocks[-3]
    assert type(final_block8).__name__ == "Block8"
    assert counter.frame_count == len(types) + 1 < len(model.blocks)


def test_compiling_blocks_stays_within_the_recompile_limit() -> None:
    """Inception-v3 has thirteen blocks of seven types in twelve shapes: with one code object for
    all blocks, torch.compile would give up after eight and run the rest eagerly."""
    model = built(SPECS / "inception_v3.yaml", input_shape=(75, 75, 3))
    counter = CompileCounter()
    compile_blocks(model, backend=counter)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("error")
        model(image(model))
    shapes = {(type(b), tuple(p.shape for p in b.parameters())) for b in model.blocks}
    assert counter.frame_count == len(shapes) > 8


def test_a_training_step_through_compiled_blocks_equals_the_eager_step() -> None:
    eager = built(SPECS / "examples" / "inception_resnet_v2_tiny.yaml", input_shape=None).train()
    regional = built(SPECS / "examples" / "inception_resnet_v2_tiny.yaml", input_shape=None).train()
    compile_blocks(regional, backend="aot_eager")
    x, y = image(eager, batch=4), torch.tensor([0, 1, 2, 3])
    for model in (eager, regional):
        torch.manual_seed(0)  # the head's dropout draws the same mask in both
        torch.nn.functional.cross_entropy(model(x), y).backward()
    for (name, a), (_, b) in zip(eager.named_parameters(), regional.named_parameters(), strict=True):
        assert a.grad is not None and b.grad is not None, name
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)
    for (name, a), (_, b) in zip(eager.named_buffers(), regional.named_buffers(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)  # running statistics moved alike


@pytest.mark.parametrize("path", SMALL_NETWORKS, ids=lambda p: p.stem)
def test_the_inference_lowering_computes_the_eval_model(path: Path) -> None:
    model = built(path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lowered = for_inference(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in lowered.modules())
    assert not any(p.requires_grad for p in lowered.parameters())
    x = image(model)
    with torch.no_grad():
        expected, actual = model(x), lowered(x)
    scale = float(expected.abs().max())
    assert float((actual - expected).abs().max()) <= 1e-5 * scale
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model is untouched
    normalized = any(n.attrs.get("bn") is not None for n in model.spec.nodes)  # ConvNeXt's are layer norms
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == normalized


def test_sibling_convolutions_are_merged_where_they_read_one_tensor() -> None:
    model = built(SPECS / "inception_v4.yaml")
    lowered = for_inference(model)
    merged = [m for m in lowered.modules() if isinstance(m, SplitConv)]
    # Inception-A opens with three 1x1 convolutions of its input (96, 64, 64 filters);
    # the average-pool branch reads the pool, not the input, and stays apart.
    opening = lowered.mixed_5b.branch_0.conv_0
    assert isinstance(opening, SplitConv) and opening.sizes == [96, 64, 64]
    assert not hasattr(lowered.mixed_5b.branch_1, "conv_0")
    # The merged model holds each kernel once: the parameters are the spec's, less batch norm's.
    bn_params = sum(2 * m.num_features for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    conv_biases = sum(m.conv.out_channels for m in model.modules() if isinstance(m, model.generated.ConvBnAct) and m.bn)
    assert sum(p.numel() for p in lowered.parameters()) == model.spec.params - bn_params + conv_biases
    # One in each Inception-A, -B and -C, in Reduction-B and in the stem's mixed_4a; Reduction-A
    # opens with a 3x3 and a 1x1 convolution, which do not merge.
    assert len(merged) == 4 + 7 + 3 + 1 + 1


def test_the_inference_lowering_in_bfloat16_keeps_the_prediction() -> None:
    model = built(SPECS / "examples" / "inception_resnet_v2_tiny.yaml", input_shape=None)
    lowered = for_inference(model, dtype=torch.bfloat16)
    assert {p.dtype for p in lowered.parameters()} == {torch.bfloat16}
    x = image(model, batch=8)
    with torch.no_grad():
        expected, actual = model(x), lowered(x.bfloat16()).float()
    assert float((actual - expected).abs().max()) <= 0.05 * float(expected.abs().max())


def test_the_inference_lowering_merges_siblings_that_are_block_results() -> None:
    model = built(CROSS_STEP, input_shape=None)
    lowered = for_inference(model)
    assert isinstance(lowered.first.a.conv_0, SplitConv)
    x = image(model)
    with torch.no_grad():
        torch.testing.assert_close(lowered(x), model(x), rtol=1e-5, atol=1e-5)
