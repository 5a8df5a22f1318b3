"""The bundled specs, by name, as timm's `list_models` lists its models.

A spec's name is its path under `specs/` without `.yaml`: `inception_v4`,
`examples/inception_v4_small`, `errata/inception_resnet_v2_as_printed`. Block libraries
(`lib/`) are for including, not networks, and are not listed."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent.parent / "specs"


def spec_name(path: Path) -> str:
    return path.relative_to(BUNDLED).with_suffix("").as_posix()


def list_specs(pattern: str = "*") -> list[str]:
    """Names of the bundled network specs that match a shell-style pattern (`inception_v*`,
    `examples/*`), sorted with the top-level networks first."""
    found = sorted(BUNDLED.glob("*.yaml")) + sorted(BUNDLED.glob("*/*.yaml"))
    names = [spec_name(path) for path in found if path.parent.name != "lib"]
    return [name for name in names if fnmatchcase(name, pattern)]


def spec_path(name: str) -> Path:
    """The file of a bundled spec, by the name `list_specs` gives."""
    if name not in list_specs():
        raise KeyError(f"no bundled spec '{name}'; `archspec list` shows them")
    return BUNDLED / f"{name}.yaml"
