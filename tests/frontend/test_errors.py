"""Malformed specs through the real CLI: exit status 1, no traceback, every error located.

Each test writes a small spec, runs `archspec check` on it in a subprocess and compares the
`FILE:LINE:COL: error:` lines of stderr with the position of the offending text in the spec.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import ROOT

import archspec
from archspec.errors import SpecError

CLI = ("-m", "archspec")
ERRATA = "specs/errata/inception_resnet_v2_as_printed.yaml"

_DIAGNOSTIC = re.compile(r"(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<message>.+)")
_HINT = re.compile(r"  hint: (?P<hint>.+)")
_SUMMARY = re.compile(r"\d+ of \d+ specs? failed")


@dataclass
class Diag:
    file: str
    line: int
    col: int
    message: str
    hint: str | None = None

    @property
    def where(self) -> tuple[str, int, int]:
        return self.file, self.line, self.col


@dataclass
class Result:
    returncode: int
    stderr: str
    diagnostics: list[Diag]
    elapsed: float

    def at(self, file: str, line: int, col: int) -> Diag:
        """The one diagnostic printed for exactly this position."""
        found = [d for d in self.diagnostics if d.where == (file, line, col)]
        assert len(found) == 1, f"expected one error at {file}:{line}:{col}, got:\n{self.stderr}"
        return found[0]


def check(spec: Path | str, cwd: Path) -> Result:
    """`archspec check SPEC`; asserts the failure contract and parses every diagnostic."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, *CLI, "check", str(spec)], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    diagnostics: list[Diag] = []
    for text in proc.stderr.splitlines():
        if match := _DIAGNOSTIC.fullmatch(text):
            diagnostics.append(Diag(match["file"], int(match["line"]), int(match["col"]), match["message"]))
        elif (match := _HINT.fullmatch(text)) and diagnostics and diagnostics[-1].hint is None:
            diagnostics[-1].hint = match["hint"]
        else:
            assert _SUMMARY.fullmatch(text), f"stray stderr line {text!r} in:\n{proc.stderr}"
    assert diagnostics, proc.stderr
    return Result(proc.returncode, proc.stderr, diagnostics, elapsed)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def pos(text: str, needle: str) -> tuple[int, int]:
    """1-based (line, column) of the only occurrence of needle in text."""
    assert text.count(needle) == 1, f"{needle!r} must occur exactly once in the spec"
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


INPUT = "input: {shape: [32, 32, 3]}\n"
HEADER = "archspec: 1\n" + INPUT


def spec_check(tmp_path: Path, text: str, name: str = "spec.yaml") -> Result:
    write(tmp_path / name, text)
    return check(tmp_path / name, tmp_path)


# -- YAML and schema ------------------------------------------------------------------------------


def test_bad_yaml_syntax(tmp_path: Path) -> None:
    text = "archspec: 1\ninput:\n  shape: [32, 32, 3]\n network:\n  - {op: conv, kernel: 3, filters: 8}\n"
    result = spec_check(tmp_path, text)
    line, col = pos(text, "network:")
    diag = result.at("spec.yaml", line, col)
    assert diag.message.startswith("invalid YAML:")
    # The pure-Python parser's words, whichever parser is installed (see loader.load_text).
    assert diag.message.endswith("expected <block end>, but found '<block mapping start>'")


def test_unknown_key_suggests_the_known_one(tmp_path: Path) -> None:
    text = HEADER + "network:\n  - {op: conv, kernel: 3, filter: 16}\n"
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "filter: 16"))
    assert diag.message == "unknown key 'filter' in conv"
    assert diag.hint == "did you mean 'filters'?"


def test_unknown_op_kind_suggests_the_known_one(tmp_path: Path) -> None:
    text = HEADER + "network:\n  - {op: convv, kernel: 3, filters: 16}\n"
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "convv"))
    assert diag.message == "unknown op 'convv'"
    assert diag.hint == "did you mean 'conv'?"


def test_an_op_or_key_with_a_line_break_is_quoted_as_its_escape() -> None:
    """What a spec wrote is quoted as its escape in the message itself, not only when printed:
    a message is one line for every reader (the JSON of `check`, the Python API)."""
    text = HEADER + 'network:\n  - {op: "co\\nnv", kernel: 3, filters: 16}\n  - {op: conv, "fil\\nters": 4}\n'
    with pytest.raises(SpecError) as caught:
        archspec.load(text)
    messages = [d.message for d in caught.value.diagnostics]
    assert "unknown op 'co\\nnv'" in messages and "unknown key 'fil\\nters' in conv" in messages
    assert not any("\n" in m for m in messages)


def test_wrong_type_of_filters(tmp_path: Path) -> None:
    text = HEADER + 'network:\n  - {op: conv, kernel: 3, filters: "abc"}\n'
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, '"abc"'))
    assert "'filters' must be a positive integer" in diag.message
    assert "'abc'" in diag.message


def test_wrong_padding_value_suggests_valid(tmp_path: Path) -> None:
    text = HEADER + "network:\n  - {op: conv, kernel: 3, filters: 8, padding: vaild}\n"
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "vaild"))
    assert "'padding' must be valid or same" in diag.message
    assert "'vaild'" in diag.message
    assert diag.hint == "did you mean 'valid'?"


def test_duplicate_mapping_key(tmp_path: Path) -> None:
    text = HEADER + "network:\n  - {op: conv, kernel: 3, filters: 8}\ninput: {shape: [64, 64, 3]}\n"
    result = spec_check(tmp_path, text)
    second = text.rindex("input:")
    diag = result.at("spec.yaml", text.count("\n", 0, second) + 1, 1)
    assert diag.message == "duplicate key 'input'"
    assert diag.hint == f"first written at line {pos(text, 'input: {shape: [32')[0]}"


def test_python_object_tag_is_refused_and_not_run(tmp_path: Path) -> None:
    text = HEADER + 'name: !!python/object/apply:os.system ["touch pwned"]\nnetwork:\n  - {op: flatten}\n'
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "!!python"))
    assert "python/object/apply:os.system" in diag.message
    assert "not allowed" in diag.message
    assert not (tmp_path / "pwned").exists()


def test_alias_bomb_fails_fast_at_the_anchor(tmp_path: Path) -> None:
    layers = [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    text = HEADER + "laughs:\n  l0: &l0 lol\n" + "\n".join(layers) + "\nnetwork:\n  - {op: flatten}\n"
    result = spec_check(tmp_path, text)  # 10**9 leaves if expanded
    assert result.elapsed < 15
    # The node limit is passed on one of the leaves, each of which is the aliased scalar l0.
    diag = result.at("spec.yaml", *pos(text, "&l0 lol"))
    assert "spec expands to more than" in diag.message
    assert "YAML nodes" in diag.message
    assert diag.hint is not None and "alias bomb" in diag.hint


# -- references and graph ---------------------------------------------------------------------------


def test_dangling_reference(tmp_path: Path) -> None:
    text = HEADER + (
        "network:\n"
        "  - {op: conv, name: stem, kernel: 3, filters: 16}\n"
        "  - {op: conv, kernel: 3, filters: 16, input: stme}\n"
        "  - {op: conv, kernel: 3, filters: 16, input: nonexistent}\n"
    )
    result = spec_check(tmp_path, text)
    close = result.at("spec.yaml", *pos(text, "stme"))
    assert close.message == "unknown node 'stme'"
    assert close.hint == "did you mean 'stem'?"
    far = result.at("spec.yaml", *pos(text, "nonexistent"))
    assert far.message == "unknown node 'nonexistent'"
    assert far.hint is not None and "did you mean" not in far.hint


def test_cycle_through_a_forward_reference(tmp_path: Path) -> None:
    text = HEADER + (
        "network:\n"
        "  - {op: conv, name: a, kernel: 3, filters: 16, input: b}\n"
        "  - {op: conv, name: b, kernel: 3, filters: 16}\n"
    )
    result = spec_check(tmp_path, text)
    line, col = pos(text, "{op: conv, name: a")
    diag = result.at("spec.yaml", line, col)
    assert diag.message == "cycle: 'a' -> 'b' -> 'a'"


# -- shapes -----------------------------------------------------------------------------------------


def test_kernel_larger_than_valid_padded_input(tmp_path: Path) -> None:
    text = "archspec: 1\ninput: {shape: [3, 3, 3]}\nnetwork:\n  - {op: conv, kernel: 5x5, padding: valid, filters: 8}\n"
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "5x5"))
    assert "5x5 kernel" in diag.message
    assert "3x3 input" in diag.message
    assert "valid padding" in diag.message


def test_non_positive_sizes(tmp_path: Path) -> None:
    text = HEADER + "network:\n  - {op: conv, kernel: 0, filters: 8}\n  - {op: conv, kernel: 3, filters: -4}\n"
    result = spec_check(tmp_path, text)
    kernel = result.at("spec.yaml", *pos(text, "0, filters"))
    assert kernel.message.startswith("'kernel' must be a size")
    assert kernel.message.endswith("got 0")
    filters = result.at("spec.yaml", *pos(text, "-4"))
    assert filters.message == "'filters' must be a positive integer or a $parameter, got -4"


def test_concat_of_different_spatial_sizes(tmp_path: Path) -> None:
    text = HEADER + (
        "network:\n"
        "  - {op: conv, name: left, kernel: 3, filters: 8}\n"
        "  - {op: conv, name: right, input: input, kernel: 3, stride: 2, filters: 8}\n"
        "  - {op: concat, inputs: [left, right]}\n"
    )
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "{op: concat"))
    assert "'left'" in diag.message and "'right'" in diag.message
    assert "input 'right' is 16x16 but 'left' is 32x32" in diag.message
    assert diag.hint == "that input is written at spec.yaml:{}:{}".format(*pos(text, "{op: conv, name: right"))


def test_add_of_different_shapes(tmp_path: Path) -> None:
    text = HEADER + (
        "network:\n"
        "  - {op: conv, name: left, kernel: 3, filters: 8}\n"
        "  - {op: conv, name: right, kernel: 3, filters: 16}\n"
        "  - {op: add, shortcut: left}\n"
    )
    result = spec_check(tmp_path, text)
    # Blamed on the residual's width, the value that has to change.
    diag = result.at("spec.yaml", *pos(text, "16}"))
    left = "spec.yaml:{}:{}".format(*pos(text, "{op: conv, name: left"))
    right = "spec.yaml:{}:{}".format(*pos(text, "{op: conv, name: right"))
    add = "spec.yaml:{}:{}".format(*pos(text, "{op: add"))
    assert f"shortcut 'left' is 32x32x8 (from {left})" in diag.message
    assert f"residual 'right' is 32x32x16 (from {right})" in diag.message
    assert f"the add is at {add}" in diag.message
    assert diag.hint == "the residual must project back to 8 channels"


# -- include --------------------------------------------------------------------------------------


def test_include_cycle(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "archspec: 1\ninclude: [b.yaml]\n" + INPUT + "network:\n  - {op: flatten}\n")
    b_text = "archspec: 1\ninclude: [a.yaml]\nblocks:\n  x:\n    body:\n      - {op: flatten}\n"
    write(tmp_path / "b.yaml", b_text)
    result = check(tmp_path / "a.yaml", tmp_path)
    diag = result.at("b.yaml", *pos(b_text, "a.yaml"))
    assert diag.message == "include cycle: a.yaml -> b.yaml -> a.yaml"


def test_include_outside_the_spec_roots(tmp_path: Path) -> None:
    write(tmp_path / "outside.yaml", "blocks:\n  x:\n    body:\n      - {op: flatten}\n")
    text = "archspec: 1\ninclude: [../outside.yaml]\n" + INPUT + "network:\n  - {block: x}\n"
    write(tmp_path / "sub" / "spec.yaml", text)
    result = check(tmp_path / "sub" / "spec.yaml", tmp_path)
    diag = result.at("sub/spec.yaml", *pos(text, "../outside.yaml"))
    assert diag.message == "'../outside.yaml' is outside the spec roots"
    assert diag.hint is not None and "archspec:NAME" in diag.hint


# -- blocks and parameters --------------------------------------------------------------------------

BLOCKS = HEADER + (
    "blocks:\n"
    "  unit:\n"
    "    params: {width: ~, k: 3}\n"
    "    body:\n"
    "      - {op: conv, kernel: $k, filters: $width}\n"
    "network:\n"
)


def test_unknown_block_name(tmp_path: Path) -> None:
    text = BLOCKS + "  - {block: unti, with: {width: 8}}\n"
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "unti"))
    assert diag.message == "unknown block 'unti'"
    assert diag.hint == "did you mean 'unit'?"


def test_missing_block_parameter(tmp_path: Path) -> None:
    text = BLOCKS + "  - {block: unit, with: {k: 5}}\n"
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "{block: unit"))
    assert diag.message == "block 'unit' needs parameter 'width'"
    assert diag.hint is not None and "with:" in diag.hint


def test_unknown_block_parameter(tmp_path: Path) -> None:
    text = BLOCKS + "  - {block: unit, with: {width: 8, widht: 9}}\n"
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, "widht"))
    assert diag.message == "block 'unit' has no parameter 'widht'"
    assert diag.hint == "did you mean 'width'?"


def test_bad_expression_is_refused_without_evaluation(tmp_path: Path) -> None:
    attack = "${__import__('os').system('touch pwned')}"
    text = BLOCKS + f'  - {{block: unit, with: {{width: "{attack}"}}}}\n'
    result = spec_check(tmp_path, text)
    diag = result.at("spec.yaml", *pos(text, '"$'))
    assert diag.message.startswith("'__import__('os').system('touch pwned')' is not allowed here")
    assert not (tmp_path / "pwned").exists()


def test_every_error_in_a_file_is_reported(tmp_path: Path) -> None:
    text = HEADER + (
        "network:\n"
        "  - {op: conv, kernel: 3, filters: 8, strides: 2}\n"
        "  - {op: convv, kernel: 3, filters: 16}\n"
        "  - {op: conv, kernel: 3, filters: 8, padding: vaild}\n"
    )
    result = spec_check(tmp_path, text)
    assert result.at("spec.yaml", *pos(text, "strides")).hint == "did you mean 'stride'?"
    assert result.at("spec.yaml", *pos(text, "convv")).message == "unknown op 'convv'"
    assert "'vaild'" in result.at("spec.yaml", *pos(text, "vaild")).message
    assert len({d.line for d in result.diagnostics}) == 3


def test_every_error_in_expansion_is_reported(tmp_path: Path) -> None:
    text = BLOCKS + (
        "  - {block: unti, with: {width: 8}}\n"
        "  - {block: unit, with: {width: 8, widht: 9}}\n"
        "  - {op: conv, input: nowhere, kernel: 3, filters: 4}\n"
    )
    result = spec_check(tmp_path, text)
    assert result.at("spec.yaml", *pos(text, "unti")).message == "unknown block 'unti'"
    assert result.at("spec.yaml", *pos(text, "widht")).message == "block 'unit' has no parameter 'widht'"
    assert result.at("spec.yaml", *pos(text, "nowhere")).message == "unknown node 'nowhere'"


def test_two_missing_parameters_of_one_step_are_both_reported(tmp_path: Path) -> None:
    text = HEADER + (
        "blocks:\n"
        "  unit:\n"
        "    params: {width: ~, k: ~}\n"
        "    body:\n"
        "      - {op: conv, kernel: $k, filters: $width}\n"
        "network:\n"
        "  - {block: unit}\n"
    )
    result = spec_check(tmp_path, text)
    messages = sorted(d.message for d in result.diagnostics)
    assert messages == ["block 'unit' needs parameter 'k'", "block 'unit' needs parameter 'width'"]


def test_every_bad_attribute_of_one_step_is_reported(tmp_path: Path) -> None:
    text = HEADER + 'network:\n  - {op: conv, kernel: 3, filters: 8, stride: "${1/0}", padding: "${foo}"}\n'
    result = spec_check(tmp_path, text)
    assert result.at("spec.yaml", *pos(text, '"${1/0}')).message == "division by zero"
    assert result.at("spec.yaml", *pos(text, '"${foo}')).message.startswith("unknown parameter 'foo'")


def test_network_parameters_may_be_computed_from_earlier_ones(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "ok.yaml",
        HEADER + 'params: {w: 4, w2: "${w * 2}"}\nnetwork:\n  - {op: conv, kernel: 1, filters: $w2}\n',
    )
    proc = subprocess.run([sys.executable, *CLI, "check", str(spec)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "32x32x3 -> 32x32x8, " in proc.stdout


# -- the bundled errata spec --------------------------------------------------------------------------


def test_errata_spec_is_rejected_at_the_printed_widths() -> None:
    lines = (ROOT / ERRATA).read_text(encoding="utf-8").splitlines()

    def written(number: str) -> tuple[int, int]:
        """The one non-comment line that writes this number, and its column."""
        found = [(i, line) for i, line in enumerate(lines, 1) if number in line and not line.lstrip().startswith("#")]
        assert len(found) == 1, found
        return found[0][0], found[0][1].index(number) + 1

    result = check(ERRATA, ROOT)
    block17 = result.at(ERRATA, *written("1154"))
    assert "17x17x1152" in block17.message and "17x17x1154" in block17.message
    assert block17.hint == "the residual must project back to 1152 channels"
    block8 = result.at(ERRATA, *written("2048"))
    assert "8x8x2144" in block8.message and "8x8x2048" in block8.message
    assert block8.hint == "the residual must project back to 2144 channels"
    assert len(result.diagnostics) == 2
