"""The lock file and pyproject.toml agree: `make install` installs from the lock, people who install
archspec as a library get pyproject's ranges, and the two must not drift apart."""

from __future__ import annotations

import itertools
import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from support import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK_TEXT = (ROOT / "requirements.lock").read_text()
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;.*?)?\s*\\?$", re.MULTILINE)


def locked() -> dict[str, Version]:
    return {canonicalize_name(name): Version(version) for name, version in PIN.findall(LOCK_TEXT)}


def declared() -> list[Requirement]:
    """Every requirement of archspec and of each extra, and what its build needs."""
    project = PYPROJECT["project"]
    texts = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        texts += extra
    texts += PYPROJECT["build-system"]["requires"]
    return [Requirement(text) for text in texts]


def test_the_lock_parses_into_pins() -> None:
    pins = locked()
    # One pin per `name==version` line the lock holds; a line the pattern misses would go unchecked.
    assert len(pins) == len(re.findall(r"^[A-Za-z0-9][^\s#]*==", LOCK_TEXT, re.MULTILINE)) > 50


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_declared_dependency_is_pinned_within_its_range(requirement: Requirement) -> None:
    pins = locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement} is declared in pyproject.toml but not in requirements.lock: run `make lock`"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"requirements.lock pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: run `make lock`"
    )


def test_every_pin_carries_a_hash() -> None:
    starts = [match.start() for match in PIN.finditer(LOCK_TEXT)] + [len(LOCK_TEXT)]
    for start, end in itertools.pairwise(starts):
        entry = LOCK_TEXT[start:end]
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_torch_is_the_cpu_build() -> None:
    """A plain torch pin would let the resolver take the multi-GB CUDA build and its nvidia-* packages."""
    pins = locked()
    assert pins["torch"].local == "cpu"
    assert not [name for name in pins if name.startswith("nvidia-")]
