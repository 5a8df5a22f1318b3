"""`--set KEY=VALUE`: overrides merge over the spec like a variant, are checked like a spec, and a
bad one is a located error that names it, with exit status 1 (2 for one that is not KEY=VALUE)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.errors import SpecError


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archspec", *args], cwd=cwd, capture_output=True, text=True)


def test_overrides_equal_the_variant_that_writes_them(tmp_path: Path) -> None:
    (tmp_path / "variant.yaml").write_text(
        "archspec: 1\nextends: archspec:inception_resnet_v2.yaml\nparams: {num_classes: 10}\n"
        "input: {shape: [149, 149, 3]}\nblocks: {block35: {params: {scale: 0.2}}}\n"
    )
    variant = archspec.load(tmp_path / "variant.yaml")
    changed = archspec.load(
        "inception_resnet_v2",
        overrides=["params.num_classes=10", "input.shape=[149, 149, 3]", "blocks.block35.params.scale=0.2"],
    )
    assert (changed.input_shape, changed.output_shape) == ((149, 149, 3), (10,))
    assert changed.summary()["nodes"] == variant.summary()["nodes"]
    # Later overrides win, and the input's other settings stay.
    later = archspec.load("inception_resnet_v2", overrides=["input.crop_pct=0.8", "input.crop_pct=0.9"])
    assert (later.preprocess.crop_pct, later.preprocess.interpolation, later.input_shape) == (
        0.9,
        "bicubic",
        (299, 299, 3),
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "params.num_classes=abc",
            "--set params.num_classes:1:1: error: 'units' must be a positive integer, got 'abc'",
        ),
        ("input.shape=[0, 1]", "--set input.shape:1:1: error: 'shape' must be an input shape"),
        ("nonsense.x=1", "--set nonsense.x:1:1: error: unknown key 'nonsense'"),
        ("input.shape=[149, 149", "--set input.shape:1:"),
        ("params.num_classes=" + "[" * 200, "--set params.num_classes:1:"),
    ],
)
def test_a_bad_override_is_a_located_error(override: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        archspec.load("inception_v4", overrides=[override])
    assert str(caught.value).startswith(message)
    done = cli("check", "inception_v4", "--set", override, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith(message)
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_overrides_reach_every_command_that_reads_a_spec(tmp_path: Path) -> None:
    summary = cli("summary", "inception_v4", "--set", "params.num_classes=7", "--format", "json", cwd=tmp_path)
    assert summary.returncode == 0 and '"output_shape": [\n    7\n  ]' in summary.stdout
    compiled = cli(
        "compile", "inception_v4", "--backend", "torch", "-o", "m.py", "--set", "params.num_classes=7", cwd=tmp_path
    )
    assert compiled.returncode == 0 and "num_classes: int = 7" in (tmp_path / "m.py").read_text()
    for text in ("bad", "=1", "a..b=1", "x" * 200 + "=1"):
        usage = cli("check", "inception_v4", "--set", text, cwd=tmp_path)
        assert usage.returncode == 2 and "--set takes KEY=VALUE" in usage.stderr


# Every key an override names is honoured or refused, with a "did you mean", wherever it is.
MISTYPED = {
    "params.block_17_repeats=3": ("unknown key 'block_17_repeats' in 'params'", "did you mean 'block17_repeats'?"),
    "blocks.incc.params.b0=3": ("unknown key 'incc' in 'blocks'", "known here: block17, block35, block8"),
    "blocks.block35.params.scal=0.1": ("unknown key 'scal' in 'blocks.block35.params'", "did you mean 'scale'?"),
    "defaults.conv.kernl=3": ("unknown key 'kernl' in 'defaults.conv'", "did you mean 'kernel'?"),
    "defaults.conv.bn.ep=0.1": ("unknown key 'ep' in 'defaults.conv.bn'", "did you mean 'eps'?"),
    "input.crop=0.9": ("unknown key 'crop' in 'input'", "did you mean 'crop_pct'?"),
    "width.multiplyer=0.5": ("unknown key 'multiplyer' in 'width'", "did you mean 'multiplier'?"),
    "params={block_17_repeats: 3}": ("unknown key 'block_17_repeats' in 'params'", "did you mean"),
    "network.mixed_7aa.x=1": ("no item named 'mixed_7aa' in the list 'network'", "did you mean 'mixed_7a'?"),
    "network.mixed_7a.x=1": ("unknown key 'x'", None),
    "blocks.block17.body.upp.filters=1": ("no item named 'upp' in the list 'blocks.block17.body'", "'up'"),
    "name.x=1": ("'name' is 'inception_resnet_v2', not a mapping", None),
    "include=[a.yaml]": ("'include' is resolved before --set applies", "a variant file"),
    "extends=archspec:inception_v4.yaml": ("'extends' is resolved before --set applies", "a variant file"),
}


@pytest.mark.parametrize("override", MISTYPED)
def test_a_key_the_spec_does_not_have_is_refused_with_a_hint(override: str, tmp_path: Path) -> None:
    message, hint = MISTYPED[override]
    key = override.partition("=")[0]
    with pytest.raises(SpecError) as caught:
        archspec.load("inception_resnet_v2", overrides=[override])
    (diagnostic,) = caught.value.diagnostics
    assert str(diagnostic.pos) == f"--set {key}:1:1" and diagnostic.message.startswith(message)
    assert hint is None or hint in str(diagnostic.hint)
    done = cli("check", "inception_resnet_v2", "--set", override, cwd=tmp_path)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "override",
    ["params.block17_repeats=3", "width.multiplier=0.5", "input.crop_pct=0.9", "defaults.conv.groups=1",
     "defaults.dense.bias=false", "blocks.block35.params.scale=0.1", "defaults.conv.bn.eps=0.01"],
)  # fmt: skip
def test_keys_the_spec_has_or_the_schema_allows_there_are_taken(override: str) -> None:
    archspec.load("inception_resnet_v2", overrides=[override])


def test_a_mistyped_sweep_key_fails_every_point_instead_of_giving_identical_rows(tmp_path: Path) -> None:
    done = cli("sweep", "inception_resnet_v2", "--set", "params.block17_repeat=3,5", cwd=tmp_path)
    assert done.returncode == 1 and "unknown key 'block17_repeat' in 'params'" in done.stderr


def test_a_variant_value_that_changes_nothing_is_a_located_warning(tmp_path: Path) -> None:
    """A block default that every instance overrides, and a parameter nothing reads, look like
    changes and are none: each is a warning at the value, in a variant and in an override."""
    (tmp_path / "base.yaml").write_text(
        "archspec: 1\ninput: {shape: [8, 8, 3]}\nparams: {width: 4}\n"
        "blocks:\n  unit:\n    params: {scale: 1.0}\n    body:\n"
        "      - {op: conv, kernel: 1, filters: 3}\n      - {op: add, shortcut: input, scale: $scale}\n"
        "network:\n  - {block: unit, repeat: 2, with: {scale: 0.5}}\n  - {op: conv, kernel: 1, filters: $width}\n"
    )
    variant = tmp_path / "v.yaml"
    variant.write_text("archspec: 1\nextends: base.yaml\nparams: {widht: 8}\nblocks: {unit: {params: {scale: 0.1}}}\n")
    spec = archspec.load(variant)
    warnings = [d for d in spec.notes if d.severity == "warning"]
    assert [(d.pos.line, d.pos.col) for d in warnings] == [(3, 17), (4, 33)]
    assert warnings[0].message == "parameter 'widht' changes nothing: no step or block reads $widht"
    assert warnings[1].message.startswith("the default scale of block 'unit' changes nothing: every instance")
    done = cli("check", str(variant), cwd=tmp_path)
    assert done.returncode == 0 and "v.yaml:4:33: warning: the default scale of block 'unit'" in done.stderr
    # The same value in the base is the author's own, and no warning; in an override it is one.
    assert not [d for d in archspec.load(tmp_path / "base.yaml").notes if d.severity == "warning"]
    overridden = archspec.load(tmp_path / "base.yaml", overrides=["blocks.unit.params.scale=0.3"])
    assert [str(d.pos) for d in overridden.notes] == ["--set blocks.unit.params.scale:1:1"]


def test_the_readme_s_variant_of_a_block_default_reaches_every_instance() -> None:
    """The bundled Inception-ResNet-v2's repeated blocks take their scale from the block's
    default, so the README's `blocks: {block35: {params: {scale: 0.1}}}` changes all ten."""
    spec = archspec.load("inception_resnet_v2", overrides=["blocks.block35.params.scale=0.1"])
    assert not spec.notes
    assert {n.attrs["scale"] for n in spec.nodes if n.op == "add" and n.block.startswith("block35")} == {0.1}


ITEMS = """\
archspec: 1
input: {shape: [8, 8, 3]}
network:
  - {op: conv, name: first, filters: 8, kernel: 3}
  - {block: pair, name: mid, with: {f: 4}}
  - {op: global_avgpool}
blocks:
  pair:
    params: {f: null}
    body:
      - {op: conv, name: inner, filters: $f, kernel: 1}
      - {op: conv, name: outer, filters: 2, kernel: 1}
"""


def test_a_key_enters_a_list_by_an_item_s_name(tmp_path: Path) -> None:
    """One step of `network` or of a block's `body` changes without copying the list: the
    others keep what the spec says, and the command line takes the same keys."""
    (tmp_path / "t.yaml").write_text(ITEMS)
    overrides = ["network.first.filters=16", "network.mid.with.f=6", "blocks.pair.body.outer.kernel=3"]
    spec = archspec.load(tmp_path / "t.yaml", overrides=overrides)
    assert spec.node("first").attrs["filters"] == 16
    assert spec.node("mid/inner").attrs["filters"] == 6 and spec.node("mid/inner").attrs["kernel"] == (1, 1)
    assert spec.node("mid/outer").attrs["kernel"] == (3, 3) and spec.node("mid/outer").attrs["filters"] == 2
    assert [n.name for n in spec.nodes] == [n.name for n in archspec.load(tmp_path / "t.yaml").nodes]
    done = cli("summary", "t.yaml", "--set", "network.mid.with.f=6", "--detail", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "mid/inner" in done.stdout and "8x8x6" in done.stdout
    wrong = cli("check", "t.yaml", "--set", "network.midd.with.f=6", cwd=tmp_path)
    assert wrong.returncode == 1 and "no item named 'midd' in the list 'network'" in wrong.stderr
    assert "did you mean 'mid'?" in wrong.stderr
