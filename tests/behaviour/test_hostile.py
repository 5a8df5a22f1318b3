"""Every case of the hostile corpus (tests/hostile.py), through the command line.

Each case must end with its exit status and a one-line error that says what is wrong (located as
FILE:LINE:COL where it is about a spec), with no traceback and no internal error, within
TIME_LIMIT_S and MEMORY_LIMIT of Python allocations, leaving every file that was there before
as it was and no partial file behind. Most cases run in this process, for speed; those that only
a real process can show (a blocking FIFO, a signal during start-up, the memory of the whole
process) run as subprocesses.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hostile import BASE, RUN, SPEC, WEIGHTS, Case, corpus
from support import deadline

from archspec import cli

pytest.importorskip("torch")
pytest.importorskip("sklearn")

TIME_LIMIT_S = 5.0
MEMORY_LIMIT = 1 << 30
CASES = corpus()
LOCATED = r"^.+:\d+:\d+: error: "


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root`, symlinks and FIFOs included, never followed or opened: a regular
    file by its digest, anything else by its kind."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                seen[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                seen[str(path.relative_to(root))] = stat.filemode(mode)[0]
    return seen


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Neutral weights of BASE, and a finished one-step run of it, for the cases that start from them."""
    from archspec.backends import torch as backend

    import archspec
    from archspec.weights import neutral

    root = tmp_path_factory.mktemp("prepared")
    (root / SPEC).write_text(BASE)
    model = backend.build(archspec.load(root / SPEC))
    neutral.save(backend.get_weights(model), root / WEIGHTS)
    argv = ["train", str(root / SPEC), "--data", "digits", "--epochs", "1", "--limit", "32", "--out", str(root / RUN)]
    assert cli.main(argv) == 0
    return root


def lay_out(case: Case, where: Path, prepared: Path | None) -> None:
    for name, content in case.files.items():
        path = where / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if prepared is not None and "weights" in case.needs and WEIGHTS not in case.files:
        shutil.copy(prepared / WEIGHTS, where / WEIGHTS)
    if prepared is not None and "run" in case.needs:
        shutil.copytree(prepared / RUN, where / RUN)
    if case.setup is not None:
        case.setup(where)


def check_outcome(case: Case, code: int | str | None, err: str, before: dict[str, str], after: dict[str, str]) -> None:
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == case.code, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines, "an error message"
    first = lines[-1] if case.code == 2 else lines[0]  # argparse prints its usage first
    if case.located:
        assert re.match(LOCATED, first), first
    elif case.code == 1:
        assert first.startswith("error: "), first
    assert case.error in first, first
    assert len(first) < 1200, f"a line of {len(first)} characters"
    changed = sorted(name for name, digest in before.items() if after.get(name) != digest)
    assert not changed, f"changed or removed: {changed}"
    left = sorted(set(after) - set(before))  # a failed command writes nothing, partial files included
    assert not left, f"left behind: {left}"


IN_PROCESS = [case for case in CASES if not case.name.startswith(("path-fifo", "link-include-fifo"))]


def run_in_process(case: Case, traced: bool) -> tuple[int | str | None, float, int]:
    """Exit status, seconds and (if `traced`) peak bytes of Python allocations of one case."""
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        with deadline(TIME_LIMIT_S * (3 if traced else 1)):
            code: int | str | None = cli.main(list(case.argv))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
    return code, elapsed, peak


@pytest.mark.parametrize("case", IN_PROCESS, ids=lambda case: case.name)
def test_hostile_case(
    case: Case, prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    lay_out(case, tmp_path, prepared)
    before = snapshot(tmp_path)
    capsys.readouterr()
    code, elapsed, peak = run_in_process(case, traced=True)
    err = capsys.readouterr().err
    check_outcome(case, code, err, before, snapshot(tmp_path))
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB allocated"
    if elapsed >= 1.0:  # tracing slows allocation-heavy cases about threefold: time them untraced
        again = tmp_path / "again"
        again.mkdir()
        monkeypatch.chdir(again)
        lay_out(case, again, prepared)
        code, elapsed, _ = run_in_process(case, traced=False)
        assert code == case.code, capsys.readouterr().err
    assert elapsed < TIME_LIMIT_S


def test_the_corpus_covers_every_command_with_over_a_hundred_cases() -> None:
    assert len(CASES) >= 100
    commands = {case.argv[0] for case in CASES}
    assert commands == {
        *("check", "summary", "render", "compile", "convert", "train", "eval", "list"),
        *("sweep", "export", "predict", "import"),  # the second round
    }


# -- in real processes ----------------------------------------------------------------------------

SUBPROCESS = [
    *(case for case in CASES if case.name.startswith(("path-fifo", "link-include-fifo"))),
    *(
        case
        for case in CASES
        if case.name
        in (
            "path-dev-zero-check",
            "yaml-alias-bomb",
            "yaml-deep-brackets",
            "link-fan-out-4-by-12",
            "link-extends-700-deep",
            "number-round-digits-check",
            "number-squares-check",
            "number-5000-digit-int-check",
            "classes-45000-names",
            "class-file-130000-names",
            "sweep-measure-tf",
            "predict-13000-square-png",
            "predict-text-chunk-bomb",
        )
    ),
]


# Runs the command line and, as it exits, writes its own peak resident memory (Linux's VmHWM,
# which belongs to the process's memory since its exec, unlike getrusage's maxrss, which counts
# the pages of the process that forked it) to the file named by its first argument.
LAUNCH = """\
import atexit, runpy, sys
report, sys.argv = sys.argv[1], ["archspec", *sys.argv[2:]]
def peak():
    with open("/proc/self/status") as status, open(report, "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(peak)
runpy.run_module("archspec", run_name="__main__")
"""


def run_limited(argv: tuple[str, ...], cwd: Path, timeout: float) -> tuple[int, str, int]:
    """Exit status, standard error and peak resident memory (bytes) of `python -m archspec ARGV`,
    killed after `timeout` seconds."""
    report = cwd.parent / f"{cwd.name}.peak"
    command = [sys.executable, "-c", LAUNCH, str(report), *argv]
    try:
        result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s")
    peak = int(report.read_text()) * 1024 if report.exists() else 0
    return result.returncode, result.stderr.decode(errors="replace"), peak


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="the peak memory is read from /proc (Linux)")
@pytest.mark.parametrize("case", SUBPROCESS, ids=lambda case: case.name)
def test_hostile_case_in_a_process(case: Case, prepared: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    lay_out(case, work, prepared)
    before = snapshot(work)
    started = time.perf_counter()
    code, err, peak = run_limited(case.argv, work, timeout=30)
    elapsed = time.perf_counter() - started
    check_outcome(case, code, err, before, snapshot(work))
    assert elapsed < TIME_LIMIT_S + 3  # the interpreter's own start-up on a busy machine
    assert 0 < peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB resident"


def catches_sigterm(pid: int) -> bool:
    """Whether process `pid` has a handler for SIGTERM (Linux's SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(caught >> (signal.SIGTERM - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="the handler is seen in /proc (Linux)")
def test_sigterm_during_start_up_stops_the_run_cleanly_and_it_resumes(tmp_path: Path) -> None:
    """The handler is in place before the heavy imports and the data: a SIGTERM a moment after the
    start is a clean stop after the first step, with a checkpoint, not a death by signal."""
    (tmp_path / SPEC).write_text(BASE)
    argv = [sys.executable, "-m", "archspec", "train", SPEC, "--data", "digits", "--epochs", "1", "--limit", "16"]
    argv += ["--batch-size", "8", "--out", "r"]
    process = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # As soon as the handler is in place (the kernel lists SIGTERM as caught): torch, the data
    # and the model are then still loading, for seconds.
    deadline = time.monotonic() + 60
    while not catches_sigterm(process.pid):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.005)
    assert not (tmp_path / "r").exists()  # before the run's directory: the trainer's own handler comes later
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    resumed = subprocess.run([*argv, "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "done: tiny, 1 epoch" in resumed.stdout


def test_resume_in_a_directory_without_a_checkpoint_starts_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run killed before its first checkpoint left only its log: --resume starts it over."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / SPEC).write_text(BASE)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.csv").write_text("epoch\n")
    train = ["train", SPEC, "--data", "digits", "--epochs", "1", "--limit", "32", "--out", "r"]
    assert cli.main(train) == 1
    assert "stopped before its first checkpoint: pass --resume" in capsys.readouterr().err
    assert cli.main([*train, "--resume"]) == 0
    captured = capsys.readouterr()
    assert "has no checkpoint yet; the run starts from the beginning" in captured.err
    assert (tmp_path / "r" / "checkpoint" / "state.json").is_file()
