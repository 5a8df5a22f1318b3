"""The bundled specs, by name, as timm's `list_models` lists its models.

A spec's name is its path under `specs/` without `.yaml`: `inception_v4`,
`examples/inception_v4_small`, `errata/inception_resnet_v2_as_printed`. Block libraries
(`lib/`) are for including, not networks, and are not listed. The specs ship inside the
installed package (`archspec/specs`); a checkout keeps them in `specs/` beside the package, so
names work the same in a checkout and in an installed wheel."""

from __future__ import annotations

import difflib
import re
from fnmatch import fnmatchcase
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# Installed, the specs are package data; in a checkout (an editable install among them) they are
# the repository's top-level specs/, as the project's layout keeps them.
BUNDLED = next((p for p in (_PACKAGE / "specs", _PACKAGE.parent / "specs") if p.is_dir()), _PACKAGE / "specs")

# What may name a bundled spec: `inception_v4`, `examples/inception_v4_small`, optionally with
# the `archspec:` prefix of includes or a `.yaml` suffix. Anything else is a path or YAML text.
NAME = re.compile(r"(archspec:)?[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}")


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


def find(text: str) -> Path | None:
    """The file of the bundled spec that `text` names (`inception_v4`, `archspec:inception_v4`,
    `inception_v4.yaml`), or None."""
    if not NAME.fullmatch(text):
        return None
    name = text.removeprefix("archspec:").removesuffix(".yaml")
    return BUNDLED / f"{name}.yaml" if name in list_specs() else None


def close_names(text: str) -> list[str]:
    """Bundled names that look like `text`, for a "did you mean" hint."""
    name = text.removeprefix("archspec:").removesuffix(".yaml")
    return difflib.get_close_matches(name, list_specs(), n=3, cutoff=0.6)
