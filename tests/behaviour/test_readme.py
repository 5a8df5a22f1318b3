"""The README's examples, run as a reader would run them, so that one that fails, or prints other
than it shows, or does nothing, fails here.

The README is read as one session in a fresh project holding a copy of `specs/`: every fenced
block in order. In a block of `$` lines, each is run with bash and what it shows after it must
appear in its output in that order (a line `...` stands for lines left out, and `(...)` inside a
line for part of it). A block of plain `archspec ...` lines runs each line and needs exit 0. A
Python block runs in the session's namespace. A block with a placeholder (`SPEC`, `DIR`) shows the
forms of commands, not examples, and is skipped (the synopsis). Inline
`archspec ...` spans with arguments run too. What the README says it prepared is prepared here:
`seven.png`, a validation digit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, machine_threads

README = (ROOT / "README.md").read_text()
PLACEHOLDER = re.compile(r"\b(SPEC|FILE|DIR|PATH|OUT|IN|IMAGE|KEY|FORMAT|MODULE|FACTORY|NAME|A|B|N|W)\b|\.\.\.")
# Inline spans that name a command's option in prose rather than show an example.
PROSE = {"archspec summary --format json", "archspec train --compile blocks"}
# The README shows the accuracy of a training run on 2 cores, which another thread count changes.
pytestmark = pytest.mark.all_cores
TIMEOUT = 900  # seconds for one command on a loaded 2-core machine: the digits training is the longest


def blocks() -> list[tuple[str, int, list[str]]]:
    """Every fenced block: its language, its line in the README and its lines."""
    found, language, start, lines = [], None, 0, []
    for number, line in enumerate(README.splitlines(), 1):
        if line.startswith("```"):
            if language is None:
                language, start, lines = line[3:].strip(), number, []
            else:
                found.append((language, start, lines))
                language = None
        elif language is not None:
            lines.append(line)
    return found


def commands(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The `$` commands of a block (a line ending in `\\` goes on) and what each shows after it."""
    found: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found and found[-1][0].endswith("\\"):
            found[-1] = (found[-1][0][:-1] + " " + line.strip(), [])
        elif found:
            found[-1][1].append(line)
    return found


def shown_in(shown: list[str], output: str) -> str | None:
    """None when every line `shown` appears in `output` in order; else the first that does not."""
    actual = [line.rstrip() for line in output.splitlines()]
    position = 0
    for expected in (line.rstrip() for line in shown):
        if expected.strip() in ("", "..."):
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in expected.split("(...)")) + "$")
        while position < len(actual) and not pattern.match(actual[position]):
            position += 1
        if position == len(actual):
            return expected
        position += 1
    return None


def prepare(command: str, session: Path) -> None:
    """What the README says it prepared before a command."""
    if "seven.png" in command and not (session / "seven.png").exists():
        from archspec.training import data

        images = data.load("digits", "val")
        images.image(next(i for i, label in enumerate(images.labels) if label == 7)).save(session / "seven.png")


# The `archspec` the session runs: the installed command, except that `archspec import` first
# lets PyPI's torchvision (a CUDA build) import beside the CPU torch, as a user's matching
# torchvision would (benchmarks/reference.py says how).
COMMAND = f"""#!{sys.executable}
import sys

if sys.argv[1:2] == ["import"]:
    from benchmarks.reference import import_torchvision

    import_torchvision()
from archspec.cli import main

sys.exit(main())
"""


def run(command: str, session: Path) -> subprocess.CompletedProcess[str]:
    prepare(command, session)
    path = os.pathsep.join([str(session / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {**machine_threads(dict(os.environ)), "PATH": path, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        ["bash", "-c", command], cwd=session, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def runnable(line: str) -> bool:
    return line.startswith("archspec ") and not PLACEHOLDER.search(line.split("#")[0])


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "specs", folder / "specs")
    (folder / ".archspec-root").touch()  # a project, as a checkout is
    (folder / "bin").mkdir()
    (folder / "bin" / "archspec").write_text(COMMAND)
    (folder / "bin" / "archspec").chmod(0o755)
    return folder


def test_every_block_of_the_readme_runs_as_shown(session: Path) -> None:
    from benchmarks.reference import import_timm

    import_timm()  # the Python examples use timm, which imports torchvision (see COMMAND)
    namespace: dict[str, Any] = {}
    ran = 0
    for language, start, lines in blocks():
        where = f"README.md:{start}"
        if language == "python":
            previous = Path.cwd()
            os.chdir(session)
            try:
                exec(compile("\n".join(lines), where, "exec"), namespace)  # the README's own code
            finally:
                os.chdir(previous)
            ran += 1
            continue
        if language not in ("", "sh", "console"):
            continue
        if any(line.startswith("$ ") for line in lines):
            for command, shown in commands(lines):
                done = run(command, session)
                assert done.returncode == 0, f"{where}: `{command}` exited {done.returncode}: {done.stderr[-2000:]}"
                missing = shown_in(shown, done.stdout + done.stderr)
                assert missing is None, f"{where}: `{command}` did not print {missing!r}:\n{done.stdout[-3000:]}"
                ran += 1
            continue
        written = [line for line in lines if line.startswith("archspec ")]
        if not all(map(runnable, written)):  # the forms of commands (the synopsis), not examples
            continue
        for line in written:
            command = line.split("  #")[0].strip()
            done = run(command, session)
            assert done.returncode == 0, f"{where}: `{command}` exited {done.returncode}: {done.stderr[-2000:]}"
            ran += 1
    assert ran >= 20  # the README shows at least this many examples; fewer means the reading broke


def test_every_inline_example_of_the_readme_runs(session: Path) -> None:
    spans = sorted({" ".join(span.split()) for span in re.findall(r"`(archspec [^`]+)`", README)})
    examples = [s for s in spans if " " in s.removeprefix("archspec ") and s not in PROSE and runnable(s)]
    assert len(examples) >= 2
    for example in examples:
        done = run(example, session)
        assert done.returncode == 0, f"README: `{example}` exited {done.returncode}: {done.stderr[-2000:]}"
