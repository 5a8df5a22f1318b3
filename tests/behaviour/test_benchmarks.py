"""The throughput benchmark's bookkeeping: results merged by key, tables written into a markdown
file without touching its prose, and one measurement run end to end on the CPU."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import archspec  # noqa: E402
from benchmarks import gpu_throughput as bench  # noqa: E402

SETTING = {"device": "CPU", "torch": "x", "size": 75, "train_batch": 2, "infer_batch": 4}
OURS = bench.Result("inception_v4", "archspec", "blocks", "infer", 4, 300.0, 12.0, 2.0, 100.0, 0.125)
THEIRS = bench.Result("inception_v4", "timm", "model", "infer", 4, 200.0, 30.0, 4.0, 66.0, 0.08)


def test_results_merge_by_key_and_refuse_another_setting(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    bench.merge(path, [OURS, THEIRS], SETTING)
    faster = replace(OURS, images_per_s=400.0)
    data = bench.merge(path, [faster], SETTING)
    assert len(data["results"]) == 2  # type: ignore[arg-type]
    assert asdict(faster) in data["results"]  # type: ignore[operator]
    with pytest.raises(SystemExit, match="another setting"):
        bench.merge(path, [OURS], {**SETTING, "size": 299})
    assert json.loads(path.read_text()) == data


def test_the_report_compares_compiled_against_compiled(tmp_path: Path) -> None:
    text = bench.report({"setting": SETTING, "results": [asdict(OURS), asdict(THEIRS)]})
    row = next(line for line in text.splitlines() if "archspec compiled (blocks)" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:7] == ["timm compiled", "300", "200", "**1.50**"]
    assert cells[8:] == ["12.5", "2.0 / 4.0 GiB", "12 / 30", "-"]


def test_tables_replace_their_own_section_only(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nprose\n")
    bench.write_section(doc, "h100", "table one\n")
    bench.write_section(doc, "cpu", "table two\n")
    bench.write_section(doc, "h100", "table three\n")
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nprose\n")
    assert "table one" not in text and text.index("table three") < text.index("table two")


def test_cases_are_prepared_and_timed_on_the_cpu() -> None:
    spec = archspec.load("specs/examples/inception_resnet_v2_tiny.yaml")
    cpu = torch.device("cpu")
    for implementation, task in (("archspec", "train"), ("archspec-inference", "infer")):
        case = bench.prepare(implementation, "eager", task, 2, spec, cpu, warmup=1)
        assert case.compile_s is None and case.memory_gib is None
        assert bench.seconds_per_step(case.step, cpu, 2) > 0
