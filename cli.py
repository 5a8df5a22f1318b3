"""The archspec command line, run from a checkout: `python cli.py check inception_v4`.

Installed, the same command is `archspec` (or `python -m archspec`). Here the package is imported
from this folder, and `archspec.backends` from `backends/` beside it, as the installed package has
it inside (pyproject.toml maps it there).
"""

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


class _Backends:
    """Finds `archspec.backends` in this folder's backends/; every other module is found as usual."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "archspec.backends":
            return None
        backends = ROOT / "backends"
        return importlib.util.spec_from_file_location(
            fullname, backends / "__init__.py", submodule_search_locations=[str(backends)]
        )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.meta_path.append(_Backends())
    from archspec.cli import main

    sys.exit(main())
