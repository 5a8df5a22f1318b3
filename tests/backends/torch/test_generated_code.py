"""The PyTorch file `archspec compile` writes is code people would commit: PyTorch's own tools
take its model (torch.fx, torch.export with a dynamic batch, torch.compile of the whole graph),
every definition in it is used, activations and pools are modules, chains are nn.Sequential, the
spec's parameters are the constructor's arguments, ruff accepts it with default settings, and
the state_dict keys are those every earlier version wrote.

TorchScript is not among the tools: the installed PyTorch deprecates `torch.jit.script` in
favour of torch.compile and torch.export (the last test checks that it still says so)."""

from __future__ import annotations

import ast
import importlib.util
import warnings
from pathlib import Path

import pytest
from support import (
    NETWORKS,
    SMALL_INPUT,
    assert_same_outputs,
    fits,
    load_generated,
    ruff_accepts,
    state_dict_path,
    state_dict_text,
    tools_accept,
)

import archspec

torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")
from archspec.backends.torch.codegen import generate  # noqa: E402

FIVE_LAYERS = """\
archspec: 1
name: five
input: {shape: [32, 32, 3]}
params: {num_classes: 10}
network:
  - {op: conv, filters: 16, kernel: 3, stride: 2}
  - {op: conv, filters: 32, kernel: 3}
  - {op: maxpool, kernel: 2, stride: 2}
  - {op: global_avgpool}
  - {op: dense, units: $num_classes, activation: none}
"""


@pytest.mark.slow
@pytest.mark.parametrize("path", NETWORKS, ids=[p.stem for p in NETWORKS])
def test_every_bundled_model_traces_exports_and_compiles(path: Path) -> None:
    channels = archspec.load(path).input_shape[2]
    sizes = [(75, 75, channels), (107, 107, channels), (188, 188, channels)]  # quick: the smallest that fits
    shape = next((s for s in sizes if fits(path, s)), None)
    spec = archspec.load(path, input_shape=shape)
    torch.manual_seed(0)
    tools_accept(bt.build(spec), spec.input_shape)


def test_a_stride_two_same_conv_traces_at_every_input_size() -> None:
    """`same` at a stride pads by the input's size: the fx graph computes it for each input."""
    spec = archspec.load(FIVE_LAYERS)
    model = bt.build(spec).eval()
    traced = torch.fx.symbolic_trace(model)
    for size in (32, 33, 34, 35):
        x = torch.randn(1, 3, size, size + 1)
        with torch.no_grad():
            assert_same_outputs(traced(x), model(x))
    tools_accept(model, spec.input_shape)


def _defined_and_used(source: str) -> tuple[set[str], set[str]]:
    """The module-level definitions of a file, and the names its code reads (definitions' own
    names excluded, so a definition counts as used only when something else names it)."""
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    used: set[str] = set()
    for node in tree.body:
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                used.add(inner.id)
            if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                used.add(inner.value)  # fx.wrap("same_pad") names the function it registers
    return defined, used


def test_a_five_layer_file_holds_no_definition_it_does_not_call() -> None:
    source = generate(archspec.load(FIVE_LAYERS))
    defined, used = _defined_and_used(source)
    unused = defined - used - {"build", "Five"}
    assert unused == set()
    assert {"ConvBnAct", "SamePad", "Dense"} <= defined  # what it does need is there
    assert "PaddedMaxPool" not in defined and "input_pads" not in defined
    assert len(source.splitlines()) < 200


@pytest.mark.parametrize("path", NETWORKS, ids=[p.stem for p in NETWORKS])
def test_no_bundled_file_holds_an_unused_definition(path: Path) -> None:
    source = generate(archspec.load(path))
    defined, used = _defined_and_used(source)
    assert defined - used == {"build"}


def test_inception_v4_is_no_longer_than_timm_s_hand_written_file() -> None:
    found = importlib.util.find_spec("timm")  # its file is read, not imported
    if found is None or found.origin is None:
        pytest.skip("timm is not installed")
    theirs = len((Path(found.origin).parent / "models" / "inception_v4.py").read_text().splitlines())
    ours = len(generate(archspec.load("inception_v4")).splitlines())
    assert ours <= theirs, f"the generated file has {ours} lines, timm's {theirs}"


def test_activations_and_pools_are_modules_and_chains_are_sequential() -> None:
    spec = archspec.load("inception_v4", input_shape=SMALL_INPUT)
    model = bt.build(spec)
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"ReLU", "MaxPool2d", "AvgPool2d", "Sequential"} <= kinds
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == sum(node.op == "conv" for node in spec.nodes)  # forward hooks reach each one
    fired = []
    relus[0].register_forward_hook(lambda *_: fired.append(1))
    model.eval()(torch.randn(1, 3, *SMALL_INPUT[:2]))
    assert fired == [1]
    branch = model.get_submodule("mixed_5b.branch_1")
    assert isinstance(branch, torch.nn.Sequential) and list(dict(branch.named_children())) == ["conv_0", "conv_1"]
    assert "ReLU()" in str(model)


@pytest.mark.parametrize("path", NETWORKS, ids=[p.stem for p in NETWORKS])
def test_state_dict_keys_are_those_earlier_versions_wrote(path: Path) -> None:
    """The golden files were written before activations became modules and branches
    nn.Sequential: every weight file written since loads, key by key, shape by shape."""
    assert state_dict_text(path) == state_dict_path(path).read_text()


def test_the_constructor_takes_the_spec_s_parameters(tmp_path: Path) -> None:
    """InceptionV4(num_classes=10, dropout=0.5, in_chans=1) is the spec built with
    `--set params.num_classes=10 --set params.dropout=0.5` at one input channel: the same
    state_dict keys and shapes and, with the same weights, the same outputs."""
    source = generate(archspec.load("inception_v4", input_shape=SMALL_INPUT))
    module = load_generated(source, tmp_path / "inception_v4_file.py")
    ours = module.InceptionV4(num_classes=10, dropout=0.5, in_chans=1).eval()
    overrides = ("params.num_classes=10", "params.dropout=0.5")
    spec = archspec.load("inception_v4", overrides=overrides, input_shape=(*SMALL_INPUT[:2], 1))
    theirs = bt.build(spec).eval()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in theirs.state_dict().items()
    ]
    theirs.load_state_dict(ours.state_dict())
    assert theirs.head.dropout_0.p == ours.head.dropout_0.p == 0.5
    x = torch.randn(2, 1, *SMALL_INPUT[:2])
    with torch.no_grad():
        assert_same_outputs(ours(x), theirs(x))
    assert ours(x).shape == (2, 10)
    doc = module.InceptionV4.__doc__
    assert "inception_a_blocks" in doc and "stay as written" in doc  # a repeat count cannot be an argument


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v3_large", "densenet121"])
def test_num_classes_and_in_chans_are_arguments_of_other_networks(name: str, tmp_path: Path) -> None:
    spec = archspec.load(name, input_shape=SMALL_INPUT)
    module = load_generated(generate(spec), tmp_path / f"{name}_file.py")
    model_class = next(v for k, v in vars(module).items() if k == "build").__annotations__["return"]
    ours = getattr(module, model_class)(num_classes=7, in_chans=2).eval()
    overrides = ("params.num_classes=7", "input.mean=0.5", "input.std=0.5")  # one value for every channel
    theirs = bt.build(archspec.load(name, input_shape=(*SMALL_INPUT[:2], 2), overrides=overrides))
    theirs.eval().load_state_dict(ours.state_dict())
    x = torch.randn(1, 2, *SMALL_INPUT[:2])
    with torch.no_grad():
        assert_same_outputs(ours(x), theirs(x))


def test_every_bundled_file_passes_ruff_with_default_settings(tmp_path: Path) -> None:
    for path in NETWORKS:
        (tmp_path / f"{path.stem}.py").write_text(generate(archspec.load(path)))
    (tmp_path / "five.py").write_text(generate(archspec.load(FIVE_LAYERS)))
    ruff_accepts(tmp_path)


def test_torchscript_is_deprecated_by_the_installed_pytorch() -> None:
    """Why TorchScript is not among the tools above: PyTorch itself points to torch.compile and
    torch.export. Should a later PyTorch stop saying so, this fails and the choice is revisited."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.script(torch.nn.ReLU())
    assert any(issubclass(w.category, DeprecationWarning) and "torch.jit.script" in str(w.message) for w in caught)
