"""Test set-up: the repository's top (benchmarks/) and tests/ (the shared helpers of `support`
and the hostile corpus of `hostile`) are importable from every test folder, and the `slow`
marker: every test of the folders that build framework models, train or run whole workflows
(SLOW_FOLDERS), and the tests elsewhere marked so. `make test-fast` leaves them out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]


SLOW_FOLDERS = ("backends", "training", "deploy", "importers", "behaviour")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds framework models or trains; left out of `make test-fast`")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.relative_to(TESTS).parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
