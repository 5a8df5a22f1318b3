"""The hostile corpus: inputs written to break archspec, each with the refusal it must get.

A case is a command line, the files it finds in an empty working directory, the exit status it
must end with and a pattern its first error line must contain. `test_hostile.py` runs every case
and also checks what every case must do: a one-line located error, no traceback, no internal
error, bounded time and memory, and every file that was there before left as it was.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# A small network that trains on digits in a second: every case below breaks one thing in it.
BASE = """\
archspec: 1
name: tiny
input: {shape: [16, 16, 3]}
params: {w: 4}
blocks:
  unit:
    params: {f: ~}
    body:
      - {op: conv, filters: $f, kernel: 3}
network:
  - {block: unit, name: u, with: {f: $w}}
  - {op: global_avgpool}
  - {op: dense, units: 10}
"""
SPEC = "net.yaml"
WEIGHTS = "w.safetensors"  # neutral weights of BASE, written by the runner where a case asks
RUN = "run"  # a finished run of BASE, copied in by the runner where a case asks


def spec(old: str = "", new: str = "") -> str:
    """BASE with one piece of text replaced (that must be there)."""
    assert old in BASE, old
    return BASE.replace(old, new, 1) if old else BASE


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    error: str  # a piece of the first error line
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    code: int = 1
    located: bool = True  # FILE:LINE:COL: error: rather than error:
    needs: tuple[str, ...] = ()  # "weights", "run": prepared files the case starts from


def _command(command: str) -> tuple[str, ...]:
    """The arguments that make `command` run on SPEC as far as reading it."""
    return {
        "check": ("check", SPEC),
        "summary": ("summary", SPEC),
        "render": ("render", SPEC, "-o", "out.dot"),
        "compile": ("compile", SPEC, "--backend", "torch", "-o", "out.py"),
        "convert": ("convert", SPEC, "--from", "neutral", WEIGHTS, "--to", "torch", "t.safetensors"),
        "train": ("train", SPEC, "--data", "digits", "--epochs", "1", "--limit", "32", "--out", "fresh"),
        "eval": ("eval", SPEC, "--weights", WEIGHTS, "--data", "digits", "--limit", "16"),
    }[command]


COMMANDS = ("check", "summary", "render", "compile", "convert", "train", "eval")


def _fifo(path: Path) -> None:
    os.mkfifo(path / SPEC)


def _loop(path: Path) -> None:
    (path / SPEC).symlink_to(SPEC)


def _directory(path: Path) -> None:
    (path / SPEC).mkdir()


def _device(path: Path) -> None:
    (path / SPEC).symlink_to("/dev/zero")


# Ways a spec path can fail to be a spec file, through every command that reads one.
PATHS: dict[str, tuple[Callable[[Path], None] | None, str]] = {
    "missing": (None, "cannot read spec: No such file or directory"),
    "fifo": (_fifo, "it is a FIFO, not a regular file"),
    "symlink-loop": (_loop, "its symbolic links form a loop"),
    "directory": (_directory, "it is a directory, not a regular file"),
    "dev-zero": (_device, "it is a character device, not a regular file"),
}


def _path_cases() -> list[Case]:
    cases = []
    for kind, (setup, error) in PATHS.items():
        for command in COMMANDS:
            needs = ("weights",) if command in ("convert", "eval") else ()
            cases.append(Case(f"path-{kind}-{command}", _command(command), error, setup=setup, needs=needs))
    long_name = "x" * 5000 + ".yaml"
    for command in ("check", "summary", "render", "compile"):
        argv = tuple(long_name if a == SPEC else a for a in _command(command))
        cases.append(Case(f"path-too-long-{command}", argv, "the path is 5005 characters long"))
    return cases


# Numbers and expressions: each is a spec that must be refused at the offending value.
NUMBERS: dict[str, tuple[str, str, str]] = {
    "nan-eps": ("kernel: 3}", "kernel: 3, bn: {eps: .nan}}", "'.nan' is not a finite number"),
    "inf-momentum": ("kernel: 3}", "kernel: 3, bn: {momentum: .inf}}", "'.inf' is not a finite number"),
    "minus-inf-param": ("{w: 4}", "{w: -.inf}", "'-.inf' is not a finite number"),
    "nan-in-expression": ("$f, kernel", "'${f * 1.0 + 0 * nan}', kernel", "unknown parameter 'nan'"),
    "5000-digit-int": ("filters: $f", "filters: " + "9" * 5000, "number is 5000 characters long"),
    "huge-int": ("{w: 4}", "{w: 1000000000000000000}", "is too large; numbers are limited to ±10^15"),
    "hex-huge": ("{w: 4}", "{w: 0x" + "f" * 40 + "}", "is too large; numbers are limited to ±10^15"),
    "sexagesimal": ("{w: 4}", "{w: " + ":".join(["59"] * 40) + "}", "characters long; the limit is 64"),
    "round-digits": ("{w: 4}", "{w: '${round(7, -100000000)}'}", "round(): the number of digits"),
    "squares": ("{w: 4}", "{a: 99999999, b: '${a*a}', c: '${b*b}', w: '${c % 7 + 1}'}", "is too large"),
    "product": ("{w: 4}", "{w: '${1000000 * 1000000 * 1000000}'}", "is too large (the limit is ±10^15)"),
    "float-to-huge-int": ("{w: 4}", "{w: '${int(1e300)}'}", "is too large"),
    "division-by-zero": ("{w: 4}", "{w: '${4 // (2 - 2)}'}", "division by zero"),
    "null-parameter": ("{w: 4}", "{w: ~}", "'filters' has no value (null)"),
    "kernel-text-5000-digits": ("kernel: 3}", "kernel: '" + "9" * 5000 + "x3'}", "(5004 characters)"),
    "shape-text-5000-digits": ("[16, 16, 3]", "'" + "9" * 5000 + "x16x3'", "(5007 characters)"),
    "kernel-text-30-digits": ("kernel: 3}", "kernel: '" + "9" * 30 + "x3'}", "must be a positive integer, 'HxW'"),
    "filters-past-budget": ("filters: $f", "filters: 1000000000000001", "is too large; numbers are limited"),
    "op-name-100k": ("{op: global_avgpool}", "{op: " + "z" * 100_000 + "}", "characters ...]"),
    "parameter-name-100k": ("filters: $f", "filters: $" + "q" * 100_000, "characters ...]"),
    "filters-1e12": ("filters: $f", "filters: 1000000000000", "has 256,000,000,000,000 elements"),
    "input-1e6-square": ("[16, 16, 3]", "[1000000, 1000000, 3]", "has 3,000,000,000,000 elements"),
    "units-1e12": ("units: 10", "units: 1000000000000", "elements; the limit is 2,147,483,647"),
    "kernel-huge": ("kernel: 3}", "kernel: 100000, padding: same}", "elements; the limit is 2,147,483,647"),
    "float-filters": ("filters: $f", "filters: 4.5", "must be a positive integer"),
    "negative-filters": ("filters: $f", "filters: -4", "must be a positive integer"),
    "zero-stride": ("kernel: 3}", "kernel: 3, stride: 0}", "stride"),
    "bool-filters": ("filters: $f", "filters: true", "filters"),
    "string-scale": ("{op: global_avgpool}", "{op: dropout, rate: 'x'}\n  - {op: global_avgpool}", "rate"),
    "rate-above-one": ("{op: global_avgpool}", "{op: dropout, rate: 1.5}\n  - {op: global_avgpool}", "rate"),
    "expression-code": ("{w: 4}", "{w: '${__import__(\"os\").getpid()}'}", "is not allowed here"),
    "expression-lambda": ("{w: 4}", "{w: '${(lambda: 4)()}'}", "is not allowed here"),
    "expression-too-long": ("{w: 4}", "{w: '${" + "1+" * 150 + "1}'}", "expression is longer than"),
    # The lineage attributes: explicit pads, dilation, groups, separable convs, gates.
    "padding-1e15": ("kernel: 3}", "kernel: 3, padding: 1000000000000000}", "elements; the limit is 2,147,483,647"),
    "padding-negative": ("kernel: 3}", "kernel: 3, padding: [1, -1]}", "'padding' must be valid or same"),
    "padding-three-sides": ("kernel: 3}", "kernel: 3, padding: [1, 2, 3]}", "'padding' must be same, valid"),
    "dilation-1e15": ("kernel: 3}", "kernel: 3, dilation: 1000000000000000}", "elements; the limit is 2,147,483,647"),
    "dilated-and-strided": ("kernel: 3}", "kernel: 3, dilation: 2, stride: 2}", "a dilated conv takes stride 1"),
    "groups-1e15": ("kernel: 3}", "kernel: 3, groups: 1000000000000000}", "groups must divide both"),
    "pool-pads-past-half": (
        "{op: global_avgpool}",
        "{op: maxpool, kernel: 3, padding: 2}\n  - {op: global_avgpool}",
        "a pool pads at most half its window",
    ),
    "depth-multiplier-1e15": (
        "{op: global_avgpool}",
        "{op: separable_conv, kernel: 3, filters: 4, depth_multiplier: 1000000000000000}\n  - {op: global_avgpool}",
        "has 36,000,000,000,000,000 elements",
    ),
    "gate-of-wrong-width": (
        "{op: global_avgpool}",
        "{op: global_avgpool, name: g, keepdims: true}\n  - {op: multiply, inputs: [input, g]}\n"
        "  - {op: global_avgpool}",
        "a gate has the same shape, 1x1x3 or 3",
    ),
}


def _number_cases() -> list[Case]:
    cases = []
    for name, (old, new, error) in NUMBERS.items():
        for command in ("check", "compile"):
            cases.append(Case(f"number-{name}-{command}", _command(command), error, {SPEC: spec(old, new)}))
    return cases


def _chain(depth: int, key: str) -> dict[str, str | bytes]:
    """A chain of `depth` files, each including or extending the next."""
    files: dict[str, str | bytes] = {}
    for i in range(depth):
        last = i == depth - 1
        if key == "include":
            files[f"c{i}.yaml"] = "archspec: 1\nblocks: {}\n" if last else f"archspec: 1\ninclude: [c{i + 1}.yaml]\n"
        else:
            files[f"c{i}.yaml"] = BASE if last else f"archspec: 1\nextends: c{i + 1}.yaml\nname: n{i}\n"
    files[SPEC] = (
        spec("name: tiny", "name: tiny\ninclude: [c0.yaml]") if key == "include" else "archspec: 1\nextends: c0.yaml\n"
    )
    return files


def _fan_out(levels: int, width: int) -> dict[str, str | bytes]:
    """Each file includes `width` files of the next level: width ** levels openings in all."""
    files: dict[str, str | bytes] = {}
    for level in range(levels + 1):
        names = [f"l{level + 1}_{k}.yaml" for k in range(width)]
        body = f"archspec: 1\ninclude: [{', '.join(names)}]\n" if level < levels else "archspec: 1\nblocks: {}\n"
        for k in range(width):
            files[f"l{level}_{k}.yaml"] = body
    files[SPEC] = spec("name: tiny", "name: tiny\ninclude: [l0_0.yaml]")
    return files


def _include_loop(path: Path) -> None:
    (path / "loop.yaml").symlink_to("loop.yaml")


def _include_fifo(path: Path) -> None:
    os.mkfifo(path / "lib.yaml")


def _link_cases() -> list[Case]:
    with_include = spec("name: tiny", "name: tiny\ninclude: [lib.yaml]")
    cases = [
        Case("link-include-500-deep", ("check", SPEC), "nested more than 32 files deep", _chain(500, "include")),
        Case("link-extends-700-deep", ("check", SPEC), "nested more than 32 files deep", _chain(700, "extends")),
        Case("link-extends-40-deep-summary", ("summary", SPEC), "nested more than 32", _chain(40, "extends")),
        Case("link-fan-out-4-by-12", ("check", SPEC), "reads more than 256 files", _fan_out(12, 4)),
        Case("link-fan-out-2-by-20", ("render", SPEC, "-o", "x.dot"), "reads more than 256 files", _fan_out(20, 2)),
        Case(
            "link-include-cycle",
            ("check", SPEC),
            "include cycle",
            {SPEC: with_include, "lib.yaml": "archspec: 1\ninclude: [net.yaml]\n"},
        ),
        Case("link-extends-itself", ("check", SPEC), "include cycle", {SPEC: "archspec: 1\nextends: net.yaml\n"}),
        Case(
            "link-include-symlink-loop",
            ("check", SPEC),
            "its symbolic links form a loop",
            {SPEC: spec("name: tiny", "name: tiny\ninclude: [loop.yaml]")},
            _include_loop,
        ),
        Case("link-include-fifo", ("check", SPEC), "it is a FIFO", {SPEC: with_include}, _include_fifo),
        Case("link-include-missing", ("check", SPEC), "spec file 'lib.yaml' not found", {SPEC: with_include}),
        Case(
            "link-include-outside",
            ("check", SPEC),
            "is outside the spec roots",
            {SPEC: spec("name: tiny", "name: tiny\ninclude: [../../../../etc/passwd]")},
        ),
        Case(
            "link-include-dev-zero",
            ("check", SPEC),
            "is outside the spec roots",
            {SPEC: spec("name: tiny", "name: tiny\ninclude: [/dev/zero]")},
        ),
        Case(
            "link-include-nul",
            ("check", SPEC),
            "the path contains a NUL character",
            {SPEC: spec("name: tiny", 'name: tiny\ninclude: ["lib\\0.yaml"]')},
        ),
        Case(
            "link-include-long-name",
            ("check", SPEC),
            "characters long; the limit is 4096",
            {SPEC: spec("name: tiny", f"name: tiny\ninclude: [{'y' * 5000}.yaml]")},
        ),
        Case(
            "link-include-directory",
            ("check", SPEC),
            "it is a directory",
            {SPEC: spec("name: tiny", "name: tiny\ninclude: [sub]"), "sub/x.yaml": "archspec: 1\n"},
        ),
        Case(
            "link-include-big-file",
            ("check", SPEC),
            "bytes; the limit is 1000000",
            {SPEC: with_include, "lib.yaml": "archspec: 1\n" + "#" * 1_000_001 + "\n"},
        ),
        Case(
            "link-bundled-missing",
            ("check", SPEC),
            "not found",
            {SPEC: spec("name: tiny", "name: tiny\ninclude: [archspec:nothing_here.yaml]")},
        ),
        Case(
            "link-bundled-escape",
            ("check", SPEC),
            "is outside the spec roots",
            {SPEC: spec("name: tiny", "name: tiny\ninclude: ['archspec:../../../../etc/hostname']")},
        ),
    ]
    return cases


def _yaml_cases() -> list[Case]:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    texts: dict[str, tuple[str | bytes, str]] = {
        "alias-bomb": (bomb, "spec expands to more than 50000 YAML nodes"),
        "deep-brackets": ("x: " + "[" * 100_000, "nested deeper than 64 levels"),
        "deep-mappings": ("x: " + "{a: " * 5000 + "1" + "}" * 5000, "nested deeper than 64 levels"),
        "python-tag": ("!!python/object/apply:os.system ['true']\n", "is not allowed in a spec"),
        "python-name": ("x: !!python/name:os.system\n", "is not allowed in a spec"),
        "merge-key": ("a: &a {x: 1}\nb: {<<: *a}\n", "merge keys"),
        "duplicate-key": ("archspec: 1\narchspec: 1\n", "duplicate key 'archspec'"),
        "not-utf8": (b"archspec: 1\nname: \xff\xfe\n", "spec is not UTF-8 text"),
        "nul-byte": (b"archspec: 1\nname: a\x00b\n", "is not allowed"),
        "empty": ("", "spec is empty"),
        "only-comment": ("# nothing\n", "spec is empty"),
        "a-list": ("- 1\n- 2\n", "a spec must be a YAML mapping at the top"),
        "a-scalar": ("just text\n", "a spec must be a YAML mapping at the top"),
        "unclosed": ("archspec: 1\nname: [tiny\n", "invalid YAML"),
        "tab-indent": ("archspec: 1\nnetwork:\n\t- {op: conv}\n", "invalid YAML"),
        "binary-tag": ("archspec: 1\nname: !!binary aGVsbG8=\n", "name"),
        "timestamp": ("archspec: 1\nname: 2001-12-14\n", "name"),
        "non-string-key": ("archspec: 1\n1: x\n", "keys must be strings"),
        "unknown-version": (spec("archspec: 1", "archspec: 99"), "archspec"),
        "unknown-op": (spec("{op: global_avgpool}", "{op: os_system}"), "os_system"),
        "name-with-newline": (spec("name: u,", 'name: "u\\n",'), "name"),
        "name-with-dot": (spec("name: u,", "name: u.v,"), "name"),
        "name-dunder-import": (spec("name: u,", "name: '__import__(\"os\")',"), "name"),
        "unknown-reference": (spec("{op: global_avgpool}", "{op: global_avgpool, input: nowhere}"), "nowhere"),
        "self-reference": (spec("{op: global_avgpool}", "{op: global_avgpool, name: g, input: g}"), "cycle"),
        "huge-repeat": (spec("name: u, with", "name: u, repeat: 1000000, with"), "would expand to more than 10000"),
        "nested-repeats": (
            spec("name: u, with", "name: u, repeat: 3000, with")
            .replace("network:", "  outer:\n    body:\n      - {block: unit, repeat: 3000, with: {f: 4}}\nnetwork:")
            .replace("{block: unit, name: u, repeat: 3000", "{block: outer, name: u, repeat: 3000")
            .replace(", with: {f: $w}}", "}"),
            "network expands to more than 10000 nodes",
        ),
    }
    return [Case(f"yaml-{name}", ("check", SPEC), error, {SPEC: text}) for name, (text, error) in texts.items()]


def _null_device(path: Path) -> None:
    (path / "null").symlink_to("/dev/null")


def _output_cases() -> list[Case]:
    return [
        Case(
            "out-compile-into-directory",
            ("compile", SPEC, "--backend", "torch", "-o", "d", "--force"),
            "d is a directory",
            {SPEC: BASE, "d/keep.txt": "keep"},
            located=False,
        ),
        Case(
            "out-compile-over-spec",
            ("compile", SPEC, "--backend", "torch", "-o", SPEC, "--force"),
            "is an input of this command",
            {SPEC: BASE},
            located=False,
        ),
        Case(
            "out-compile-over-include",
            ("compile", SPEC, "--backend", "tf", "-o", "lib.yaml", "--force"),
            "is an input of this command",
            {SPEC: spec("name: tiny", "name: tiny\ninclude: [lib.yaml]"), "lib.yaml": "archspec: 1\nblocks: {}\n"},
            located=False,
        ),
        Case(
            "out-compile-existing",
            ("compile", SPEC, "--backend", "torch", "-o", "mine.py"),
            "mine.py exists; pass --force",
            {SPEC: BASE, "mine.py": "# my edits\n"},
            located=False,
        ),
        Case(
            "out-compile-over-dev-null",
            ("compile", SPEC, "--backend", "torch", "-o", "null", "--force"),
            "null is not a regular file",
            {SPEC: BASE},
            _null_device,
            located=False,
        ),
        Case(
            "out-compile-missing-directory",
            ("compile", SPEC, "--backend", "torch", "-o", "no/such/dir/x.py"),
            "cannot write no/such/dir/x.py",
            {SPEC: BASE},
            located=False,
        ),
        Case(
            "out-render-over-spec",
            ("render", SPEC, "-o", SPEC, "--format", "dot"),
            "is an input of this command",
            {SPEC: BASE},
            located=False,
        ),
        Case(
            "out-render-over-spec-forced",
            ("render", SPEC, "-o", SPEC, "--format", "dot", "--force"),
            "is an input of this command",
            {SPEC: BASE},
            located=False,
        ),
        Case(
            "out-render-existing",
            ("render", SPEC, "-o", "mine.dot"),
            "mine.dot exists; pass --force",
            {SPEC: BASE, "mine.dot": "digraph {}\n"},
            located=False,
        ),
        Case(
            "out-render-into-directory",
            ("render", SPEC, "-o", "d.dot", "--force"),
            "d.dot is a directory",
            {SPEC: BASE, "d.dot/keep": "keep"},
            located=False,
        ),
        Case(
            "out-render-too-many-boxes",
            ("render", SPEC, "--level", "layers", "-o", "big.svg"),
            "more than Graphviz lays out in reasonable time",
            {SPEC: spec("name: u, with", "name: u, repeat: 3000, with")},
            located=False,
        ),
        Case(
            "out-render-missing-directory",
            ("render", SPEC, "-o", "no/where.dot"),
            "cannot write no/where.dot",
            {SPEC: BASE},
            located=False,
        ),
        Case(
            "out-convert-over-its-input",
            ("convert", SPEC, "--from", "neutral", WEIGHTS, "--to", "neutral", WEIGHTS, "--force"),
            "is an input of this command",
            {SPEC: BASE},
            located=False,
            needs=("weights",),
        ),
        Case(
            "out-convert-over-spec",
            ("convert", SPEC, "--from", "neutral", WEIGHTS, "--to", "neutral", SPEC, "--force"),
            "is an input of this command",
            {SPEC: BASE},
            located=False,
            needs=("weights",),
        ),
        Case(
            "out-convert-existing",
            ("convert", SPEC, "--from", "neutral", WEIGHTS, "--to", "torch", "t.bin"),
            "t.bin exists; pass --force",
            {SPEC: BASE, "t.bin": "mine"},
            located=False,
            needs=("weights",),
        ),
    ]


def _safetensors(header: object, data: bytes = b"", length: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return (len(raw) if length is None else length).to_bytes(8, "little") + raw + data


# The neutral weight shapes of BASE, in file order.
BASE_SHAPES = {
    "u/conv_0/kernel": [3, 3, 3, 4],
    "u/conv_0/gamma": [4],
    "u/conv_0/beta": [4],
    "u/conv_0/moving_mean": [4],
    "u/conv_0/moving_variance": [4],
    "dense_0/kernel": [4, 10],
    "dense_0/bias": [10],
}


def _complete(shapes: dict[str, list[int]], dtypes: dict[str, str]) -> bytes:
    """A safetensors file with every key of `shapes`, zero-filled, float32 unless `dtypes` says."""
    header, offset = {}, 0
    for key, shape in shapes.items():
        dtype = dtypes.get(key, "F32")
        size = 8 if dtype == "I64" else 4
        for dim in shape:
            size *= dim
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    return _safetensors(header, b"\0" * offset)


LOCATED_WEIGHTS = ("int-weights", "wrong-keys", "wrong-shape")  # an extra array has no op


def _weight_cases() -> list[Case]:
    kernel = "u/conv_0/kernel"
    files: dict[str, bytes] = {
        "empty": b"",
        "short": b"\x01\x02",
        "header-past-end": _safetensors({}, length=10**12),
        "header-not-json": b"\x04\x00\x00\x00\x00\x00\x00\x00{{{{",
        "header-a-list": _safetensors([1, 2]),
        "offsets-past-end": _safetensors({kernel: {"dtype": "F32", "shape": [1], "data_offsets": [0, 10**9]}}),
        "negative-shape": _safetensors({kernel: {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
        "size-mismatch": _safetensors({kernel: {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4]}}, b"\0" * 4),
        "unknown-dtype": _safetensors({kernel: {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
        "int-weights": _complete(BASE_SHAPES, {kernel: "I64"}),
        "lossy-float64": _safetensors(
            {kernel: {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, struct.pack("<d", 0.1)
        ),
        "wrong-keys": _safetensors({"other": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
        "extra-key": _complete({**BASE_SHAPES, "u/conv_9/kernel": [1]}, {}),
        "wrong-shape": _complete({**BASE_SHAPES, "dense_0/kernel": [4, 11]}, {}),
    }
    errors = {
        "empty": "too short to be safetensors",
        "short": "too short to be safetensors",
        "header-past-end": "past the end of the file",
        "header-not-json": "header is not JSON",
        "header-a-list": "not a JSON object",
        "offsets-past-end": "outside the file's data",
        "negative-shape": "invalid shape",
        "size-mismatch": "needs 4000",
        "unknown-dtype": "dtype 'C64'",
        "int-weights": "holds int64 values; weights are floating point",
        "lossy-float64": "would lose precision as float32",
        "wrong-keys": "lack",
        "extra-key": "arrays the spec does not use, first 'u/conv_9/kernel'",
        "wrong-shape": "'dense_0/kernel' has shape (4, 11), the spec needs (4, 10)",
    }
    cases = []
    for name, blob in files.items():
        for command in ("convert", "eval"):
            cases.append(
                Case(
                    f"weights-{name}-{command}",
                    _command(command),
                    errors[name],
                    {SPEC: BASE, WEIGHTS: blob},
                    located=name in LOCATED_WEIGHTS,  # arrays that do not fit: at their op's line
                )
            )
    cases.append(
        Case(
            "weights-directory-eval",
            _command("eval"),
            "is neither a checkpoint nor a run directory",
            {SPEC: BASE, f"{WEIGHTS}/x": "x"},
            located=False,
        )
    )
    cases.append(
        Case("weights-fifo-eval", _command("eval"), "is not a regular file", {SPEC: BASE}, _weights_fifo, located=False)
    )
    cases.append(
        Case(
            "weights-fifo-convert",
            _command("convert"),
            "not a regular file",
            {SPEC: BASE},
            _weights_fifo,
            located=False,
        )
    )
    return cases


def _weights_fifo(path: Path) -> None:
    os.mkfifo(path / WEIGHTS)


def _tamper(edit: Callable[[dict[str, object]], None], redigest: bool) -> Callable[[Path], None]:
    """A setup that edits the run's state.json, then (if `redigest`) forges its digest to match."""

    def setup(path: Path) -> None:
        from archspec.training import checkpoint

        state_path = path / RUN / "checkpoint" / "state.json"
        state = json.loads(state_path.read_text())
        edit(state)
        if redigest:
            state["state_sha256"] = checkpoint._state_digest(state)
        state_path.write_text(json.dumps(state))

    return setup


def _set(path: tuple[str, ...], value: object) -> Callable[[dict[str, object]], None]:
    def edit(state: dict[str, object]) -> None:
        target: dict[str, object] = state
        for key in path[:-1]:
            nested = target[key]
            assert isinstance(nested, dict)
            target = nested
        target[path[-1]] = value

    return edit


def _state_cases() -> list[Case]:
    edits = {
        "run-a-list": (_set(("run",), [1, 2]), "unusable run settings"),
        "input-size-strings": (_set(("run", "input_size"), ["a", "b"]), "input_size must be two whole numbers"),
        "input-size-huge": (_set(("run", "input_size"), [100000, 100000]), "input_size must be two whole numbers"),
        "epochs-negative": (_set(("run", "epochs"), -3), "epochs must be a positive whole number"),
        "recipe-nan": (_set(("run", "recipe", "learning_rate"), float("nan")), "must be a known, finite number"),
        "position-string": (_set(("position", "step"), "7"), "an unusable position"),
        "recipe-optimizer-unknown": (_set(("run", "recipe", "optimizer"), "adam"), "must be one of rmsprop, sgd"),
    }
    cases = []
    for name, (edit, error) in edits.items():
        for command, argv in (
            ("resume", ("train", SPEC, "--data", "digits", "--epochs", "2", "--limit", "32", "--out", RUN, "--resume")),
            ("eval", ("eval", SPEC, "--weights", RUN, "--data", "digits", "--limit", "16")),
        ):
            cases.append(
                Case(
                    f"state-{name}-forged-{command}",
                    argv,
                    error,
                    {SPEC: BASE},
                    _tamper(edit, True),
                    located=False,
                    needs=("run",),
                )
            )
            cases.append(
                Case(
                    f"state-{name}-{command}",
                    argv,
                    "does not match its own sha256",
                    {SPEC: BASE},
                    _tamper(edit, False),
                    located=False,
                    needs=("run",),
                )
            )
    return cases


def _train_cases() -> list[Case]:
    train = ("train", SPEC, "--data", "digits", "--epochs", "1", "--limit", "32")
    return [
        Case(
            "train-out-is-a-file",
            (*train, "--out", "f"),
            "f exists and is not a directory",
            {SPEC: BASE, "f": "x"},
            located=False,
        ),
        Case(
            "train-resume-foreign-dir",
            (*train, "--out", "d", "--resume"),
            "holds files no run wrote",
            {SPEC: BASE, "d/mine.txt": "mine"},
            located=False,
        ),
        Case(
            "train-not-empty",
            (*train, "--out", "d"),
            "d is not empty",
            {SPEC: BASE, "d/mine.txt": "mine"},
            located=False,
        ),
        Case(
            "train-data-missing",
            ("train", SPEC, "--data", "no/such/images", "--out", "r"),
            "no/such/images",
            {SPEC: BASE},
            located=False,
        ),
        Case(  # the folders made for the run go too
            "train-data-missing-nested-out",
            ("train", SPEC, "--data", "no/such/images", "--out", "runs/a/b"),
            "no/such/images",
            {SPEC: BASE},
            located=False,
        ),
        Case(
            "train-batch-zero",
            (*train, "--batch-size", "0"),
            "expected a positive whole number",
            {SPEC: BASE},
            code=2,
            located=False,
        ),
        *(
            Case(
                f"train-arg-{flag.strip('-')}-{value}",
                (*train, flag, value),
                error,
                {SPEC: BASE},
                code=2,
                located=False,
            )
            for flag, value, error in (
                ("--seed", "-1", "expected a seed from 0 to 2^32 - 1"),
                ("--seed", "99999999999999999999999", "expected a seed from 0 to 2^32 - 1"),
                ("--lr", "nan", "expected a number in (0, 1000)"),
                ("--lr", "0", "expected a number in (0, 1000)"),
                ("--lr", "inf", "expected a number in (0, 1000)"),
                ("--label-smoothing", "1.5", "expected a number in [0, 1)"),
                ("--aux-weight", "-1", "expected a number in [0, 1000)"),
                ("--workers", "100000", "expected a number of processes from 0 to"),
                ("--epochs", "1" + "0" * 20, "expected a positive whole number below 10^15"),
                ("--limit", "²", "expected a positive whole number below 10^15"),
            )
        ),
        Case("train-input-zero", (*train, "--input", "0x16"), "expected HxW", {SPEC: BASE}, code=2, located=False),
        Case(
            "train-input-huge",
            (*train, "--input", "100000x100000", "--out", "r"),
            "elements; the limit is",
            {SPEC: BASE},
        ),
        Case(
            "train-out-of-memory",
            (*train, "--batch-size", "100000", "--input", "8000x8000", "--out", "r"),
            "use a smaller --batch-size or --input",
            {SPEC: BASE},
            located=False,
        ),
        Case(
            "train-wrong-classes",
            (*train, "--out", "r"),
            "classes",
            {SPEC: spec("units: 10", "units: 7")},
            located=False,
        ),
        Case(
            "eval-crops-bad",
            ("eval", SPEC, "--weights", WEIGHTS, "--data", "digits", "--crops", "7"),
            "invalid choice",
            {SPEC: BASE},
            code=2,
            located=False,
            needs=("weights",),
        ),
        Case(
            "eval-ensemble-missing",
            ("eval", SPEC, "--weights", WEIGHTS, "--data", "digits", "--ensemble", "no.st"),
            "does not exist",
            {SPEC: BASE},
            located=False,
            needs=("weights",),
        ),
        Case("list-no-match", ("list", "zzz*"), "no bundled spec matches", located=False),
        Case(
            "summary-bad-input",
            ("summary", SPEC, "--input", "1x1x-3"),
            "expected HxWxC",
            {SPEC: BASE},
            code=2,
            located=False,
        ),
        Case(
            "render-unknown-block",
            ("render", SPEC, "--block", "nope", "-o", "x.dot"),
            "no block type or step named 'nope'",
            {SPEC: BASE},
            code=2,
            located=False,
        ),
    ]


def _png(width: int, height: int, chunks: list[tuple[bytes, bytes]] = (), rows: bytes | None = None) -> bytes:
    """A PNG of 1-bit pixels claiming `width` x `height`, written chunk by chunk (no image library:
    a 13000x13000 one is a few kilobytes on disk and would be hundreds of megabytes decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = rows if rows is not None else zlib.compress(b"\0" * (height * (1 + (width + 7) // 8)), 9)
    body = b"".join(chunk(kind, data) for kind, data in chunks)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + body + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _image_fifo(path: Path) -> None:
    os.mkfifo(path / "seven.png")


# The second round: the surfaces added after the first (predict, export, sweep, classes, --set).
PREDICT = ("predict", SPEC, "--weights", WEIGHTS, "seven.png")
TINY_GRID = ("--set", "params.w=" + ",".join(str(w) for w in range(1, 2001)))


def _second_round_cases() -> list[Case]:
    many = "classes: [" + ", ".join(f"c{i}" for i in range(45_000)) + "]\n"
    return [
        Case("set-classes-text", ("check", SPEC, "--set", "classes=abc"), "class file 'abc' not found", {SPEC: BASE}),
        Case("set-include", ("check", SPEC, "--set", "include=[a.yaml]"), "'include' is resolved before", {SPEC: BASE}),
        Case("std-zero-in-float32", ("check", SPEC), "input std must be at least 1.18e-38",
             {SPEC: spec("input: {shape: [16, 16, 3]}", "input: {shape: [16, 16, 3], std: 1.0e-300}")}),
        Case("batch-norm-without-settings", ("check", SPEC), "a batch_norm step's 'bn' is true or its settings",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: batch_norm, bn: false}\n  - {op: global_avgpool}")}),
        Case("batch-norm-on-a-vector", ("check", SPEC), "needs an HxWxC input",
             {SPEC: spec("  - {op: dense, units: 10}", "  - {op: batch_norm}\n  - {op: dense, units: 10}")}),
        Case("batch-norm-eps-negative", ("check", SPEC), "eps",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: batch_norm, bn: {eps: -1}}\n  - {op: global_avgpool}")}),
        Case("layer-norm-eps-zero", ("check", SPEC), "'eps' must be a number above 0",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: layer_norm, eps: 0}\n  - {op: global_avgpool}")}),
        Case("group-norm-groups-not-dividing", ("check", SPEC), "groups must divide the",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: group_norm, groups: 7}\n  - {op: global_avgpool}")}),
        Case("group-norm-groups-huge", ("check", SPEC), "numbers are limited to ±10^15",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: group_norm, groups: 100000000000000000000}\n  - {op: global_avgpool}")}),
        Case("group-norm-on-a-vector", ("check", SPEC), "needs an HxWxC input",
             {SPEC: spec("  - {op: dense, units: 10}", "  - {op: group_norm, groups: 1}\n  - {op: dense, units: 10}")}),
        Case("layer-scale-init-text", ("check", SPEC), "'init' must be a number",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: layer_scale, init: big}\n  - {op: global_avgpool}")}),
        Case("drop-path-rate-one", ("check", SPEC), "'rate' must be in [0, 1)",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: drop_path, rate: 1.0}\n  - {op: global_avgpool}")}),
        Case("drop-path-without-rate", ("check", SPEC), "needs 'rate'",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: drop_path}\n  - {op: global_avgpool}")}),
        Case("resize-huge-factor", ("check", SPEC), "the limit is 2,147,483,647",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: resize, factor: 1000000}\n  - {op: global_avgpool}")}),
        Case("resize-zero-size", ("check", SPEC), "'size' must be a size",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: resize, size: [0, 4]}\n  - {op: global_avgpool}")}),
        Case("resize-factor-and-size", ("check", SPEC), "a resize takes one of factor, size or like; got factor",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: resize, factor: 2, size: 8}\n  - {op: global_avgpool}")}),
        Case("resize-like-a-vector", ("check", SPEC), "not a map to take the size of",
             {SPEC: spec("  - {op: dense, units: 10}",
                         "  - {op: dense, name: v, units: 10}\n  - {op: resize, input: u, like: v}\n"
                         "  - {op: global_avgpool}\n  - {op: dense, units: 10}")}),
        Case("resize-like-unknown", ("check", SPEC), "unknown node 'nowhere'",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: resize, like: nowhere}\n  - {op: global_avgpool}")}),
        Case("resize-mode-bicubic", ("check", SPEC), "'mode' must be nearest or bilinear, got 'bicubic'",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: resize, factor: 2, mode: bicubic}\n  - {op: global_avgpool}")}),
        Case("center-crop-like-a-vector", ("check", SPEC), "is a vector, not a map to take the size of",
             {SPEC: spec("  - {op: dense, units: 10}",
                         "  - {op: dense, name: v, units: 10}\n  - {op: center_crop, input: u, like: v}\n"
                         "  - {op: global_avgpool}\n  - {op: dense, units: 10}")}),
        Case("resize-nearest-align-corners", ("check", SPEC), "align_corners applies to mode: bilinear only",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: resize, factor: 2, align_corners: true}\n  - {op: global_avgpool}")}),
        Case("adaptive-pool-huge-size", ("check", SPEC), "numbers are limited to ±10^15",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: adaptive_avgpool, size: 10000000000000000}\n  - {op: global_avgpool}")}),
        Case("adaptive-pool-too-many-elements", ("check", SPEC), "the limit is 2,147,483,647",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: adaptive_avgpool, size: 100000x100000}\n  - {op: global_avgpool}")}),
        Case("adaptive-pool-zero-size", ("check", SPEC), "'size' must be a size",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: adaptive_avgpool, size: [0, 7]}\n  - {op: global_avgpool}")}),
        Case("adaptive-pool-without-size", ("check", SPEC), "needs 'size'",
             {SPEC: spec("  - {op: global_avgpool}", "  - {op: adaptive_avgpool}\n  - {op: global_avgpool}")}),
        Case("channel-slice-past-the-channels", ("check", SPEC), "channels 2 to 9 are not a slice of the 4 input",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: channel_slice, start: 2, stop: 9}\n  - {op: global_avgpool}")}),
        Case("channel-slice-empty", ("check", SPEC), "it needs start < stop",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: channel_slice, start: 3, stop: 3}\n  - {op: global_avgpool}")}),
        Case("channel-slice-negative-start", ("check", SPEC), "'start' must be a non-negative integer",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: channel_slice, start: -1, stop: 3}\n  - {op: global_avgpool}")}),
        Case("channel-slice-huge-stop", ("check", SPEC), "numbers are limited to ±10^15",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: channel_slice, stop: 100000000000000000000}\n  - {op: global_avgpool}")}),
        Case("conv-transpose-output-padding-past-stride", ("check", SPEC), "must be smaller than the stride",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: conv_transpose, kernel: 2, stride: 2, output_padding: 2, filters: 4}\n"
                         "  - {op: global_avgpool}")}),
        Case("conv-transpose-crops-everything", ("check", SPEC), "crops the whole",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: conv_transpose, kernel: 2, stride: 2, padding: 50, filters: 4}\n"
                         "  - {op: global_avgpool}")}),
        Case("conv-transpose-same-padding", ("check", SPEC), "crops the same number of cells from both ends",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: conv_transpose, kernel: 3, padding: same, filters: 4}\n  - {op: global_avgpool}")}),
        Case("conv-transpose-huge-stride", ("check", SPEC), "the limit is 2,147,483,647",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: conv_transpose, kernel: 2, stride: 100000, filters: 4}\n  - {op: global_avgpool}")}),
        Case("center-crop-larger-than-input", ("check", SPEC), "which is larger",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: center_crop, size: [20, 8]}\n  - {op: global_avgpool}")}),
        Case("center-crop-size-and-like", ("check", SPEC), "a center_crop takes one of size or like, not both",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: center_crop, size: 8, like: u}\n  - {op: global_avgpool}")}),
        Case("activation-slope-of-another-function", ("check", SPEC), "'slope' is leaky_relu's, not tanh's",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: activation, fn: tanh, slope: 0.2}\n  - {op: global_avgpool}")}),
        Case("activation-slope-negative", ("check", SPEC), "'slope' must be a number of at least 0",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: activation, fn: leaky_relu, slope: -0.5}\n  - {op: global_avgpool}")}),
        Case("activation-slope-text", ("check", SPEC), "'slope' must be a number",
             {SPEC: spec("  - {op: global_avgpool}",
                         "  - {op: activation, fn: leaky_relu, slope: steep}\n  - {op: global_avgpool}")}),
        Case("classes-45000-names", ("check", SPEC), "45000 class names for an output of 10 units",
             {SPEC: BASE + many}),
        Case("class-file-130000-names", ("check", SPEC), "130000 class names for an output of 10 units",
             {SPEC: BASE + "classes: names.txt\n", "names.txt": "".join(f"c{i}\n" for i in range(130_000))}),
        Case("sweep-measure-tf", ("sweep", SPEC, *TINY_GRID, "--measure", "tf"), "--measure takes torch or torch:cuda",
             {SPEC: BASE}, located=False),
        Case("sweep-output-folder-missing", ("sweep", SPEC, *TINY_GRID, "-o", "no/such/out"), "does not exist",
             {SPEC: BASE}, located=False),
        Case("sweep-axis-not-a-figure", ("sweep", SPEC, *TINY_GRID, "--y", "accuracy"),
             "--y accuracy: not a figure of this sweep", {SPEC: BASE}, code=2, located=False),
        Case("sweep-runs-is-a-file", ("sweep", SPEC, *TINY_GRID, "--train", "digits", "--runs", "f"),
             "--runs f exists and is not a directory", {SPEC: BASE, "f": "x"}, located=False),
        Case("features-unknown-node", ("check", SPEC), "unknown node 'nope'", {SPEC: BASE + "features: [nope]\n"}),
        Case("features-a-vector", ("check", SPEC), "is a vector of 10", {SPEC: BASE + "features: [u, dense_0]\n"}),
        Case("sweep-batch-1e8", ("sweep", SPEC, "--set", "params.w=4", "--measure", "torch", "--batch-size", "10" * 4),
             "a batch of 1 to 65536 images", {SPEC: BASE}, code=2, located=False),
        Case("export-into-missing-folder", ("export", SPEC, "-o", "no/such/m.onnx"), "does not exist", {SPEC: BASE},
             located=False),
        Case("export-keras-named-onnx", ("export", SPEC, "-o", "m.onnx", "--format", "keras"),
             "a Keras archive's name ends in .keras", {SPEC: BASE}, code=2, located=False),
        Case("export-over-its-weights", ("export", SPEC, "--weights", WEIGHTS, "-o", WEIGHTS, "--format", "pt2",
             "--force"), "is an input of this command", {SPEC: BASE}, located=False, needs=("weights",)),
        Case("export-over-its-run", ("export", SPEC, "--weights", RUN, "-o", f"{RUN}/checkpoint/ema.safetensors",
             "--format", "pt2", "--force"), "is an input of this command", {SPEC: BASE}, located=False, needs=("run",)),
        Case("predict-fifo-image", PREDICT, "it is not a regular file", {SPEC: BASE}, _image_fifo, located=False,
             needs=("weights",)),
        Case("predict-13000-square-png", PREDICT, "is 13000x13000, more than 67,108,864 pixels",
             {SPEC: BASE, "seven.png": _png(13_000, 13_000)}, located=False, needs=("weights",)),
        Case("predict-text-chunk-bomb", PREDICT, "cannot read image seven.png",
             {SPEC: BASE, "seven.png": _png(1, 1, [(b"zTXt", b"k\0\0" + zlib.compress(b"\0" * 20_000_000, 9))])},
             located=False, needs=("weights",)),
        Case("import-name-with-newline", ("import", "m.py:f", "-o", "s.yaml", "--name", "x\nname: y"),
             "--name must be letters, digits and _", {"m.py": "def f():\n    pass\n"}, code=2, located=False),
        Case("import-factory-exits", ("import", "m.py:f", "--input", "8x8x3", "-o", "s.yaml"),
             "m.py:f() called sys.exit(0)", {"m.py": "import sys\ndef f():\n    sys.exit(0)\n"}, located=False),
        Case("import-module-exits", ("import", "m.py:f", "-o", "s.yaml"), "importing m.py called sys.exit(0)",
             {"m.py": "import sys\nsys.exit(0)\n"}, located=False),
    ]  # fmt: skip


def corpus() -> list[Case]:
    cases = [
        *_path_cases(),
        *_number_cases(),
        *_link_cases(),
        *_yaml_cases(),
        *_output_cases(),
        *_weight_cases(),
        *_state_cases(),
        *_train_cases(),
        *_second_round_cases(),
    ]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names are unique"
    return cases
