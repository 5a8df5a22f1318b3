"""Run generated source as a module of its own: how each backend's live model is made from the
very text `archspec compile` writes, as torch.fx makes a GraphModule's `forward` from its code.

The text is generated, never written by a user: every spec string in it went through
`archspec.codegen.naming` (a checked identifier or a repr'd literal), so executing it runs no spec text.
A module is kept per distinct text, under a name that includes its digest: building the same
spec again reuses its classes, and tracebacks and `inspect` show the generated lines. The most
recently used KEPT texts stay registered; older ones are dropped from `sys.modules`, so a process
that builds thousands of different networks (a sweep) does not grow without bound, while models
already built keep their classes.
"""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from collections import OrderedDict

from archspec.codegen.naming import word

KEPT = 64
_recent: OrderedDict[str, None] = OrderedDict()  # module names, least recently used first


def _filename(name: str) -> str:
    return f"<archspec generated {name}>"


def load(source: str, stem: str) -> types.ModuleType:
    """The module that `source` defines, executed once per distinct text."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    name = f"archspec_generated_{word(stem)}_{digest}"
    found = sys.modules.get(name)
    if found is not None and name in _recent:
        _recent.move_to_end(name)
        return found
    filename = _filename(name)
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    code = compile(source, filename, "exec")
    sys.modules[name] = module  # dataclasses and pickle look classes up by their module's name
    try:
        exec(code, module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    _recent[name] = None
    while len(_recent) > KEPT:
        old, _ = _recent.popitem(last=False)
        sys.modules.pop(old, None)
        linecache.cache.pop(_filename(old), None)
    return module
