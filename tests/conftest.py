"""Test set-up: the repository's top (benchmarks/) and tests/ (the shared helpers of `support`
and the hostile corpus of `hostile`) are importable from every test folder, and the `slow`
marker: every test of the folders that build framework models, train or run whole workflows
(SLOW_FOLDERS), and the tests elsewhere marked so. `make test-fast` leaves them out.

Under `pytest -n N` (pytest-xdist, as `make test` runs it) each worker computes on one thread:
two workers then share two cores, where two of torch's and TensorFlow's thread pools, each the
size of the machine, would fight over them (a training test ran 4 to 10 times slower so). The
modules whose module fixtures train or build something large run whole on one worker, and the
slow folders are handed out first, so that the longest tests do not start last. The tests marked
`all_cores` print what a run on every core prints (the README's training accuracy): `make test`
runs them after the workers, alone, and support.machine_threads unpins the commands they run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]


SLOW_FOLDERS = ("backends", "training", "deploy", "importers", "behaviour")
# The environment variables that size the thread pools of torch (OpenMP), oneDNN and TensorFlow.
THREAD_POOLS = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")

if os.environ.get("PYTEST_XDIST_WORKER"):  # before any test imports a framework
    pinned = [name for name in THREAD_POOLS if name not in os.environ]
    os.environ.update(dict.fromkeys(pinned, "1"))
    os.environ["ARCHSPEC_TEST_PINNED"] = ",".join(pinned)  # what support.machine_threads undoes


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds framework models or trains; left out of `make test-fast`")
    config.addinivalue_line(
        "markers", "all_cores: prints what a run on all the machine's cores prints; `make test` runs it alone"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if folder in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
        if _uses_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: slow ones first


def _uses_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture of its own module that is set up once per module (a
    trained run, a built wheel): then all the module's tests run on one worker, which sets it up once."""
    module = item.nodeid.split("::")[0]
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    return any(d.scope == "module" and d.baseid == module for defs in definitions for d in defs)
