"""The Keras file `archspec compile --backend tf` writes, as a user reads and commits it: formatted
and clean by ruff's defaults, single ops written in build() as calls of their helpers, and a
command line that prints only what it wrote."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import load_generated

import archspec

btf = pytest.importorskip("archspec.backends.tensorflow")  # first: it has Keras run on TensorFlow
from archspec.backends.tensorflow import layers  # noqa: E402
from archspec.backends.tensorflow.codegen import generate  # noqa: E402
from archspec.backends.tensorflow.startup import _without_info_lines  # noqa: E402

# Single ops only: two convs, a pool, the head.
SINGLE_OPS = """
archspec: 1
name: small
input: {shape: [32, 32, 3]}
params: {num_classes: 10}
network:
  - {op: conv, filters: 16, kernel: 3, stride: 2, name: c1}
  - {op: conv, filters: 32, kernel: 3, name: c2}
  - {op: maxpool, kernel: 2, stride: 2}
  - {op: global_avgpool}
  - {op: dense, units: $num_classes, activation: none}
"""

# The same conv as a step of its own and inside a block, and a block that stays a function.
MIXED = """
archspec: 1
name: mixed
input: {shape: [16, 16, 3]}
blocks:
  unit:
    body:
      - {op: conv, name: conv_0, kernel: 3, stride: 2, filters: 8, bn: {eps: 0.00001}}
      - {op: conv, name: conv_1, kernel: 1, filters: 8, activation: none}
network:
  - {op: conv, name: c1, kernel: 3, stride: 2, filters: 8, bn: {eps: 0.00001}}
  - {block: unit, name: u1}
  - {op: flatten}
"""


def ruff(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """ruff as installed for this Python (the project's dev dependency)."""
    pytest.importorskip("ruff")
    return subprocess.run([sys.executable, "-m", "ruff", *map(str, args)], cwd=cwd, capture_output=True, text=True)


def functions(source: str) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def calls(function: ast.FunctionDef) -> list[ast.Call]:
    return [node for node in ast.walk(function) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]


def test_every_bundled_file_is_as_ruff_formats_it_and_passes_its_checks(tmp_path: Path) -> None:
    names = [name for name in archspec.list_specs() if not name.startswith("errata/")]
    for name in names:
        source = generate(archspec.load(archspec.spec_path(name)))
        (tmp_path / f"{name.replace('/', '__')}_keras.py").write_text(source)
    for text in (SINGLE_OPS, MIXED):
        spec = archspec.load(text)
        (tmp_path / f"{spec.name}_keras.py").write_text(generate(spec))
    # ruff's defaults (`--isolated`: no configuration), as a project that formats its code has them.
    checked = ruff("check", "--isolated", ".", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff("format", "--isolated", "--diff", ".", cwd=tmp_path)  # --check, showing the changes
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_single_ops_are_calls_of_their_helpers_in_build(tmp_path: Path) -> None:
    spec = archspec.load(SINGLE_OPS)
    source = generate(spec)
    defined = functions(source)
    assert all(hasattr(layers, name) for name in defined if name != "build"), "only helpers and build()"
    steps = [(call.func.id, ast.literal_eval(call.keywords[-1].value)) for call in calls(defined["build"])]
    assert steps == [
        ("conv_bn_act", "c1"),
        ("conv_bn_act", "c2"),
        ("max_pool", "maxpool_0"),
        ("global_avgpool", "global_avgpool_0"),
        ("dense", "dense_0"),
    ]
    body = source[source.index("def build(") :]
    assert '    x = conv_bn_act(inputs, 16, (3, 3), stride=(2, 2), bn=BN, name="c1")\n' in body
    assert '    x = dense(x, 10, name="dense_0")\n' in body
    # The layers, and so the weights by name, are those of the live model.
    live = btf.build(spec)
    written = load_generated(source, tmp_path / "single_ops_keras.py").build()
    assert [layer.name for layer in written.layers] == [layer.name for layer in live.layers]
    assert [v.path for v in written.weights] == [v.path for v in live.weights]


def test_a_single_op_is_written_as_a_block_writes_the_same_op() -> None:
    source = generate(archspec.load(MIXED))
    defined = functions(source)
    assert set(defined) - {"build"} - {name for name in defined if hasattr(layers, name)} == {"unit"}
    in_block = next(call for call in calls(defined["unit"]) if call.func.id == "conv_bn_act")
    in_build = next(call for call in calls(defined["build"]) if call.func.id == "conv_bn_act")

    def written(call: ast.Call) -> tuple[str, ...]:
        """The call without its input and its layer name, which differ by where it is."""
        arguments = [ast.unparse(a) for a in call.args[1:]]
        return (*arguments, *(ast.unparse(k) for k in call.keywords if k.arg != "name"))

    assert written(in_build) == written(in_block)
    assert ast.unparse(in_build.keywords[-1]) == "name='c1'"
    assert ast.unparse(in_block.keywords[-1]) == "name=name + '.conv_0'"


def test_only_the_helpers_imports_are_written() -> None:
    """A file without batch norm or explicit padding imports no dataclass and defines no Padding:
    ruff would report them unused."""
    spec = "archspec: 1\ninput: {shape: [4, 4, 1]}\nnetwork: [{op: flatten}, {op: dense, units: 3}]"
    source = generate(archspec.load(spec))
    assert "dataclass" not in source and "Padding" not in source and "import numpy" not in source
    assert "from keras import layers\n" in source


def test_compile_prints_only_what_it_wrote(tmp_path: Path) -> None:
    """No line of TensorFlow's start-up log (oneDNN, CPU instructions, absl) reaches the terminal."""
    (tmp_path / "small.yaml").write_text(SINGLE_OPS)
    unset = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    command = [sys.executable, "-m", "archspec", "compile", "small.yaml", "--backend", "tf", "-o", "small_keras.py"]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout
    lines = len((tmp_path / "small_keras.py").read_text().splitlines())
    assert result.stdout == f"wrote small_keras.py ({lines} lines, tf)\n"


def test_the_start_up_filter_drops_only_info_lines(capfd: pytest.CaptureFixture[str]) -> None:
    with _without_info_lines():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1796568453.505869    1035 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"E0000 00:00:1796568453.505869    1035 cuda.cc:1] a real error\n")
        os.write(2, b"Traceback (most recent call last):\n")
    assert capfd.readouterr().err == (
        "E0000 00:00:1796568453.505869    1035 cuda.cc:1] a real error\nTraceback (most recent call last):\n"
    )
