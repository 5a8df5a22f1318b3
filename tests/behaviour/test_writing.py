"""The rule every writing command follows (docs/reliability.md, archspec/files.py): it writes
through a partial file of its own, so a user's file named like a partial file (`.partial.OUT`,
`.OUT.partial`, `.OUT.tmp`) is never touched; it never writes over one of its own inputs, even
with --force; it replaces an existing output only with --force; and a write leaves nothing
behind but its output. Each writing command is run against all of these."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile import BASE, SPEC, WEIGHTS

pytest.importorskip("torch")

from archspec import cli


@dataclass(frozen=True)
class Writer:
    name: str
    argv: Callable[[str], list[str]]  # the command line, given the output's name
    output: str  # what it writes, by default
    inputs: tuple[str, ...]  # files of its own that it reads, which must never be written over


WRITERS = [
    Writer("compile", lambda out: ["compile", SPEC, "--backend", "torch", "-o", out], "m.py", (SPEC,)),
    Writer("compile-tf", lambda out: ["compile", SPEC, "--backend", "tf", "-o", out], "m.py", (SPEC,)),
    Writer("render-dot", lambda out: ["render", SPEC, "-o", out, "--format", "dot"], "v.dot", (SPEC,)),
    Writer("render-html", lambda out: ["render", SPEC, "-o", out, "--format", "html"], "v.html", (SPEC,)),
    Writer(
        "convert",
        lambda out: ["convert", SPEC, "--from", "neutral", WEIGHTS, "--to", "torch", out],
        "t.safetensors",
        (SPEC, WEIGHTS),
    ),
    Writer(
        "export",
        lambda out: ["export", SPEC, "--weights", WEIGHTS, "-o", out, "--format", "pt2"],
        "m.pt2",
        (SPEC, WEIGHTS),
    ),
    # sweep -o OUT writes OUT.csv, OUT.json and OUT.png, which no name of an input can be.
    Writer("sweep", lambda out: ["sweep", SPEC, "--set", "params.w=4,8", "-o", out.removesuffix(".csv")], "s.csv", ()),
    Writer("import", lambda out: ["import", "model.py:make", "--input", "8x8x3", "-o", out], "i.yaml", ("model.py",)),
]
MODEL = "import torch\n\ndef make():\n    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())\n"


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from archspec.backends import torch as backend

    import archspec
    from archspec.weights import neutral

    root = tmp_path_factory.mktemp("weights")
    (root / SPEC).write_text(BASE)
    neutral.save(backend.get_weights(backend.build(archspec.load(root / SPEC))), root / WEIGHTS)
    return root / WEIGHTS


def lay_out(where: Path, weights: Path) -> None:
    (where / SPEC).write_text(BASE)
    (where / "model.py").write_text(MODEL)
    shutil.copy(weights, where / WEIGHTS)


def run(argv: list[str], where: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    previous = Path.cwd()
    os.chdir(where)
    try:
        code = cli.main(argv)
    finally:
        os.chdir(previous)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.name)
def test_a_writing_command_keeps_to_the_write_rule(
    writer: Writer, weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lay_out(tmp_path, weights)
    out = writer.output
    decoys = {f".partial.{out}": "mine 1", f".{out}.partial": "mine 2", f".{out}.tmp": "mine 3"}
    for name, text in decoys.items():
        (tmp_path / name).write_text(text)
    before = digests(tmp_path)

    code, err = run(writer.argv(out), tmp_path, capsys)
    assert code == 0, err
    after = digests(tmp_path)
    assert {name: after[name] for name in before} == before, "a file that was there changed"
    added = set(after) - set(before)
    assert out in added and not [name for name in added if name.startswith(".")], added

    # Again without --force: refused, and nothing changes; with it: replaced.
    written = digests(tmp_path)
    code, err = run(writer.argv(out), tmp_path, capsys)
    assert code == 1 and "exists; pass --force" in err and digests(tmp_path) == written
    code, err = run([*writer.argv(out), "--force"], tmp_path, capsys)
    assert code == 0, err
    assert not [name for name in set(digests(tmp_path)) - set(before) if name.startswith(".")]

    # Over each of its own inputs, even with --force: refused, and the input kept.
    for own in writer.inputs:
        kept = digests(tmp_path)
        code, err = run([*writer.argv(own), "--force"], tmp_path, capsys)
        assert code == 1 and "is an input of this command" in err, (own, err)
        assert digests(tmp_path) == kept
