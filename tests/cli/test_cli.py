"""The command-line contract: exit codes, JSON summary fields, listing, and a front end that
never imports a deep-learning framework."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import NETWORKS, ROOT, load_generated

from archspec.cli import main


def archspec_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archspec", *args], cwd=cwd, capture_output=True, text=True)


def test_check_all_bundled_specs() -> None:
    result = archspec_cli("check", *(str(p.relative_to(ROOT)) for p in NETWORKS))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok: ") == len(NETWORKS)


def test_check_reports_every_failing_file_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: {shape: [8, 8, 3]}\nnetwork:\n  - {op: conv, kernel: 9x9, padding: valid, filters: 2}\n")
    result = archspec_cli("check", str(ROOT / "specs" / "inception_v3.yaml"), "bad.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("bad.yaml:3:24: error: conv 'conv_0': 9x9 kernel does not fit the 8x8 input")
    assert "1 of 2 specs failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2() -> None:
    assert archspec_cli().returncode == 2
    assert archspec_cli("frobnicate").returncode == 2
    assert archspec_cli("summary", "specs/inception_v3.yaml", "--input", "299x299").returncode == 2


def test_summary_json_contract() -> None:
    result = archspec_cli("summary", "specs/inception_v4.yaml", "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["name"] == "inception_v4"
    assert summary["input_shape"] == [299, 299, 3]
    assert summary["output_shape"] == [1000]
    assert summary["params"] == 42_679_816
    assert summary["flops"] == 2 * summary["macs"]
    for block in summary["blocks"]:
        assert set(block) >= {"name", "type", "output_shape", "params", "macs"}
    for node in summary["nodes"]:
        assert set(node) >= {"name", "op", "block", "output_shape", "params", "macs"}
    assert [b["type"] for b in summary["blocks"]].count("inception_b") == 7
    assert summary["outputs"] == [{"name": "head/logits", "shape": [1000]}]


def test_check_and_summary_show_every_output(tmp_path: Path) -> None:
    (tmp_path / "two.yaml").write_text(
        "archspec: 1\nname: two\ninput: {shape: [8, 8, 3]}\nnetwork:\n"
        "  - {op: conv, name: a, kernel: 1, filters: 4}\n  - {op: global_avgpool}\n"
        "  - {op: dense, name: d, units: 2}\noutputs: [d, a]\n"
    )
    checked = archspec_cli("check", "two.yaml", cwd=tmp_path)
    assert checked.stdout == "two.yaml: ok: two, 8x8x3 -> 2 (d), 8x8x4 (a), 30 params, 0.000 GMACs\n"
    table = archspec_cli("summary", "two.yaml", cwd=tmp_path).stdout.splitlines()[-1]
    assert table.startswith("two: input 8x8x3, outputs 2 (d), 8x8x4 (a), params 30,")
    summary = json.loads(archspec_cli("summary", "two.yaml", "--format", "json", cwd=tmp_path).stdout)
    assert summary["outputs"] == [{"name": "d", "shape": [2]}, {"name": "a", "shape": [8, 8, 4]}]


def test_summary_input_override_and_detail_table() -> None:
    result = archspec_cli("summary", "specs/inception_v3.yaml", "--input", "331x331x3", "--detail")
    assert result.returncode == 0, result.stderr
    assert "stem/conv2d_1a" in result.stdout and "165x165x32" in result.stdout
    assert "input 331x331x3" in result.stdout


def test_list_names_every_bundled_spec() -> None:
    result = archspec_cli("list")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    for path in NETWORKS:
        assert path.relative_to(ROOT / "specs").with_suffix("").as_posix() in names
    assert "rejected by check on purpose" in result.stdout
    assert "lib/" not in result.stdout


BLOCK_FRAMEWORKS = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "tensorflow", "keras", "jax"):
            raise ImportError("the front end imported " + name)
        return None
sys.meta_path.insert(0, Refuse())
sys.path.insert(0, {root!r})
from archspec import cli
code = cli.main(["check", "-q", *{specs!r}])
print("exit", code)
"""


def test_front_end_never_imports_a_framework() -> None:
    specs = [str(p) for p in NETWORKS]
    program = BLOCK_FRAMEWORKS.format(root=str(ROOT), specs=specs)
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exit 0"


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_summary_table_and_json_agree(path: Path) -> None:
    table = archspec_cli("summary", str(path.relative_to(ROOT)))
    data = json.loads(archspec_cli("summary", str(path.relative_to(ROOT)), "--format", "json").stdout)
    assert f"params {data['params']:,}" in table.stdout
    for block in data["blocks"]:
        assert block["name"] in table.stdout


def test_list_takes_a_pattern_of_names() -> None:
    import archspec

    assert archspec.list_specs("inception_v*") == [
        "inception_v3",
        "inception_v3_aux",
        "inception_v3_tf",
        "inception_v4",
    ]
    assert archspec.list_specs("examples/*") == [
        "examples/inception_resnet_v2_se35",
        "examples/inception_resnet_v2_tiny",
        "examples/inception_v4_small",
    ]
    assert archspec.spec_path("inception_v4") == ROOT / "specs" / "inception_v4.yaml"
    assert not [name for name in archspec.list_specs() if name.startswith("lib/")]
    with pytest.raises(KeyError, match="no bundled spec 'lib/inception_common'"):
        archspec.spec_path("lib/inception_common")
    listed = archspec_cli("list", "inception_v*")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "inception_v3",
        "inception_v3_aux",
        "inception_v3_tf",
        "inception_v4",
    ]
    missing = archspec_cli("list", "vgg*")
    assert (missing.returncode, missing.stderr) == (1, "error: no bundled spec matches 'vgg*'\n")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "tf"])
def test_compile_writes_steps_that_read_earlier_steps_and_several_outputs(tmp_path: Path, backend: str) -> None:
    """What generated code once refused: a concat of two earlier steps, and two outputs."""
    pytest.importorskip("torch" if backend == "torch" else "keras")
    text = (
        "archspec: 1\ninput: {shape: [8, 8, 3]}\nnetwork:\n"
        "  - {op: conv, name: a, kernel: 1, filters: 4}\n  - {op: conv, name: b, kernel: 1, filters: 4}\n"
        "  - {op: concat, name: c, inputs: [a, b]}\n  - {op: global_avgpool}\n  - {op: dense, name: d, units: 2}\n"
        "outputs: [d, a]\n"
    )
    (tmp_path / "two.yaml").write_text(text)
    result = archspec_cli("compile", "two.yaml", "--backend", backend, "-o", "out.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    model = load_generated((tmp_path / "out.py").read_text(), tmp_path / "out.py").build()
    if backend == "torch":
        import torch

        logits, features = model(torch.zeros(1, 3, 8, 8))
    else:
        logits, features = model(np.zeros((1, 8, 8, 3), np.float32))
    assert tuple(logits.shape) == (1, 2)
    assert tuple(features.shape) == ((1, 4, 8, 8) if backend == "torch" else (1, 8, 8, 4))


def test_specs_load_by_name_and_a_wrong_name_is_a_located_error(tmp_path: Path) -> None:
    import archspec
    from archspec.errors import SpecError

    assert archspec.load("inception_v4").params == archspec.load(ROOT / "specs" / "inception_v4.yaml").params
    assert archspec.load("archspec:examples/inception_v4_small.yaml").name == "inception_v4_small"
    with pytest.raises(SpecError, match="did you mean inception_v4"):
        archspec.load("inception_vv4")
    checked = archspec_cli("check", "inception_v4", "inception_vv4", cwd=tmp_path)
    assert checked.returncode == 1
    assert checked.stdout.startswith("inception_v4: ok: inception_v4, 299x299x3 -> 1000, 42,679,816 params")
    assert checked.stderr.startswith("inception_vv4:1:1: error: no spec file and no bundled spec named 'inception_vv4'")
    # A file of that name wins over the bundled spec.
    mine_text = "archspec: 1\ninput: {shape: 8x8x3}\nnetwork:\n  - {op: flatten}\n  - {op: dense, units: 2}\n"
    (tmp_path / "inception_v4.yaml").write_text(mine_text)
    mine = archspec_cli("check", "inception_v4.yaml", cwd=tmp_path)
    assert "inception_v4.yaml: ok: inception_v4, 8x8x3 -> 2" in mine.stdout, mine.stderr


def test_no_message_passes_a_terminal_control_character_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Errors and warnings quote file names and spec text: an escape there (recolouring, clearing
    the screen) or a carriage return (writing over the line) is shown as its escape, never sent."""
    folder = tmp_path / "d\x1b[31m"
    folder.mkdir()
    (folder / "s.yaml").write_text(
        "archspec: 1\ninput: {shape: [8, 8, 3]}\nnetwork:\n"
        '  - {op: conv, kernel: 1, filters: 2, "k\\e[2J\\r": 1}\n'
        '  - {op: "pool\\e[5m", kernel: 2}\n'
    )
    for command in (
        ["check"],
        ["summary"],
        ["render", "-o", str(tmp_path / "s.svg")],
        ["compile", "--backend", "torch", "-o", str(tmp_path / "s.py")],
    ):
        code = main([command[0], str(folder / "s.yaml"), *command[1:]])
        err = capsys.readouterr().err
        assert code == 1 and "unknown key" in err and "d\\x1b[31m" in err, err
        assert not any(ch in err for ch in "\x1b\r\x07"), repr(err)


def test_list_gives_a_variant_without_a_description_as_a_variant() -> None:
    """A variant that says nothing of itself is not listed under its base's description."""
    result = archspec_cli("list", "examples/inception_resnet_v2_se35")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(maxsplit=1)[1].strip() == "a variant of inception_resnet_v2"


def test_render_says_what_it_wrote(tmp_path: Path) -> None:
    result = archspec_cli("render", "inception_v4", "-o", "v4.dot", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "wrote v4.dot (dot, blocks)\n"), result.stderr
    result = archspec_cli("render", "inception_v4", "--block", "inception_b", "-o", "b.dot", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "wrote b.dot (dot, inception_b)\n"), result.stderr
    assert (tmp_path / "b.dot").read_text().startswith("digraph")


def test_render_suggests_the_block_type_meant(tmp_path: Path) -> None:
    result = archspec_cli("render", "inception_v4", "--block", "inception_bb", "-o", "b.dot", cwd=tmp_path)
    assert result.returncode == 2
    assert "hint: did you mean 'inception_b'?" in result.stderr and "Traceback" not in result.stderr


def test_a_tab_and_a_wrong_type_are_said_in_plain_words(tmp_path: Path) -> None:
    (tmp_path / "tab.yaml").write_text("archspec: 1\ninput: {shape: [8, 8, 3]}\nnetwork:\n\t- {op: conv}\n")
    (tmp_path / "object.yaml").write_text("archspec: 1\ninput: 3\nnetwork: [{op: global_avgpool}]\n")
    result = archspec_cli("check", "tab.yaml", "object.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "tab.yaml:4:1: error: invalid YAML: a tab; YAML indents with spaces only" in result.stderr
    assert "object.yaml:2:8: error: 'input': expected an object, got 3" in result.stderr


def test_a_variant_in_a_sibling_folder_checks_in_a_project_or_with_root(tmp_path: Path) -> None:
    """variants/wide.yaml extends ../base/mini.yaml: refused while nothing makes the two folders
    one project, checked from any working directory once `.archspec-root` or `--root` does."""
    (tmp_path / "base").mkdir()
    (tmp_path / "variants").mkdir()
    (tmp_path / "base" / "mini.yaml").write_text(
        "archspec: 1\nname: mini\ninput: {shape: [16, 16, 3]}\nparams: {num_classes: 10}\nnetwork:\n"
        "  - {op: conv, filters: 8, kernel: 3}\n  - {op: global_avgpool}\n"
        "  - {op: dense, units: $num_classes, activation: none}\n"
    )
    variant = tmp_path / "variants" / "wide.yaml"
    variant.write_text("archspec: 1\nextends: ../base/mini.yaml\nname: wide\nparams: {num_classes: 5}\n")
    refused = archspec_cli("check", str(variant), cwd=tmp_path / "base")
    assert refused.returncode == 1 and "'../base/mini.yaml' is outside the spec roots" in refused.stderr
    assert "--root DIR" in refused.stderr
    rooted = archspec_cli("summary", str(variant), "--root", str(tmp_path), cwd=ROOT)
    assert rooted.returncode == 0, rooted.stderr
    assert "wide: input 16x16x3, output 5" in rooted.stdout
    (tmp_path / ".archspec-root").write_text("")
    for folder in (tmp_path, tmp_path / "variants", ROOT):
        found = archspec_cli("check", str(variant), cwd=folder)
        assert found.returncode == 0 and ": ok: wide, 16x16x3 -> 5" in found.stdout, found.stderr
