"""`MODULE:FACTORY`, the model `archspec import` reads: a module to import (`timm.models`) or a
Python file (`my_model.py`), and the function in it that makes the model with no arguments.
Running it runs the user's code, which is what the user asked for."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archspec.errors import ArchspecError, UsageError, first_lines


def load_factory(text: str) -> tuple[Callable[[], Any], list[Path]]:
    """MODULE:FACTORY as a function, and the source files importing it read (the file named, the
    modules it brought in): a command must never write over one. UsageError when the text is
    not of that form, ArchspecError when the module cannot be imported or has no such function."""
    module_name, colon, name = text.rpartition(":")
    if not colon or not module_name or not name.isidentifier():
        raise UsageError(f"expected MODULE:FACTORY such as timm.models:inception_v4 or my_model.py:build, not '{text}'")
    before = set(sys.modules)
    try:
        module = _import(module_name)
    except ArchspecError:
        raise
    except SystemExit as exc:  # the module ran sys.exit(): no model, and no silent exit 0
        raise ArchspecError(f"importing {module_name} called sys.exit({exc.code!r}); nothing was imported") from None
    except ImportError as exc:
        raise ArchspecError(f"cannot import {module_name}: {exc}") from None
    except Exception as exc:  # the user's own module failed as it ran
        hint = (
            " (torchvision was built for another torch: install the torchvision that matches it)"
            if "torchvision::nms" in str(exc)
            else ""
        )
        raise ArchspecError(f"importing {module_name} failed: {type(exc).__name__}: {first_lines(exc)}{hint}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ArchspecError(f"{module_name} has no '{name}' that makes a model")
    read = [Path(module_name)] if module_name.endswith(".py") else []
    read += [Path(file) for new in set(sys.modules) - before if (file := getattr(sys.modules[new], "__file__", None))]
    return factory, read


def _import(module_name: str) -> Any:
    if not module_name.endswith(".py"):
        return importlib.import_module(module_name)
    if not Path(module_name).is_file():
        raise ArchspecError(f"{module_name}: no such file")
    loaded = importlib.util.spec_from_file_location(f"archspec_imported_{Path(module_name).stem}", module_name)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module
