"""The definitions a generated file carries, each marked with the op kind it emits.

A backend's `layers` module holds the few building blocks with the IR's exact semantics. The one
that emits an op kind is marked `@emits("conv")`; one that the file needs for another says what
it uses (`uses=`). From the marks alone a code generator knows which definitions to copy into a
file (those its ops need, and what they use), how to write a node (the helper's signature: the
inputs, then the op's attributes by name, with the helper's defaults left out), where each of a
node's weights is (`weights=`, role -> where in the module or layer) for torch.fx, which
helpers read their input's size and are traced as one call (`leaf=True`), which functions make a
node's module (`module=True`), and which attributes a function resolves from others
(`resolve=`: the code generator calls it where their values are known and writes the result,
else writes the call).

So adding an op kind is its definition in `archspec/ops/` and one marked helper per backend:
no list, table or default is written twice.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, TypeVar

from archspec.codegen.plan import CodegenError

MARK = "__archspec_mark__"
T = TypeVar("T")


@dataclass(frozen=True)
class Mark:
    op: str | None  # the op kind the helper emits, if any
    uses: tuple[Any, ...] = ()  # module-level definitions its source calls
    weights: Mapping[str, str] = field(default_factory=dict)  # neutral role -> where the helper keeps it
    leaf: bool = False  # reads its input's size: torch.fx records it as one call
    module: bool = False  # a function that makes the node's module
    resolve: Mapping[str, Any] = field(default_factory=dict)  # attribute -> function of attributes


def emits(
    op: str | None = None,
    *,
    uses: Iterable[Any] = (),
    weights: Mapping[str, str] | None = None,
    leaf: bool = False,
    module: bool = False,
    resolve: Mapping[str, Any] | None = None,
) -> Callable[[T], T]:
    """Mark a helper: the op kind it emits (None for one that only others use), what it uses."""

    def mark(helper: T) -> T:
        found = Mark(
            op, tuple(uses), MappingProxyType(dict(weights or {})), leaf, module, MappingProxyType(dict(resolve or {}))
        )
        setattr(helper, MARK, found)
        return helper

    return mark


def mark_of(helper: Any) -> Mark:
    found = getattr(helper, MARK, None)
    return found if isinstance(found, Mark) else Mark(None)


def marked(module: ModuleType) -> list[Any]:
    """The marked helpers a module defines, in the order it defines them."""
    own = (obj for obj in vars(module).values() if getattr(obj, "__module__", None) == module.__name__)
    return [obj for obj in own if hasattr(obj, MARK)]


def emitter(module: ModuleType, op: str, backend: str) -> Any:
    """The helper of `module` that emits `op`; CodegenError, naming the backend, when none does."""
    for helper in marked(module):
        if mark_of(helper).op == op:
            return helper
    raise CodegenError(f"the {backend} code generator cannot emit op '{op}'")


def needed(module: ModuleType, ops: Iterable[str], backend: str) -> list[Any]:
    """The definitions a file whose nodes are of kinds `ops` needs: their helpers and, before
    them, everything those use, each once, in an order in which each follows what it uses."""
    return _with_uses(emitter(module, op, backend) for op in sorted(set(ops)))


def _with_uses(roots: Iterable[Any]) -> list[Any]:
    """The definitions `roots` and everything they use, each once, each after what it uses."""
    order: list[Any] = []

    def visit(helper: Any) -> None:
        if any(helper is seen for seen in order):
            return
        for used in mark_of(helper).uses:
            visit(used)
        order.append(helper)

    for root in roots:
        visit(root)
    return order


def called(module: ModuleType, text: str) -> list[Any]:
    """The definitions a file whose own code is `text` needs: the marked helpers it names, and
    everything those use, each once, each after what it uses."""
    words = set(re.findall(r"[A-Za-z_]\w*", text))
    return _with_uses(helper for helper in marked(module) if helper.__name__ in words)


def names(helpers: Iterable[Any]) -> tuple[str, ...]:
    return tuple(helper.__name__ for helper in helpers)


def every_name(module: ModuleType, backend: str) -> tuple[str, ...]:
    """The names of every definition any file of this backend may hold: a generated name never
    takes one, whichever helpers a file happens to need."""
    return names(called(module, " ".join(helper.__name__ for helper in marked(module))))


def source(helpers: Iterable[Any]) -> list[str]:
    """The definitions' source text, marks removed: a generated file needs no archspec."""
    texts = []
    for helper in helpers:
        lines = inspect.getsource(helper).splitlines(keepends=True)
        texts.append("".join(line for line in _unmarked(lines)))
    return texts


def _unmarked(lines: list[str]) -> list[str]:
    """Source lines without the `@emits(...)` decorator, which may run over several lines."""
    kept, depth, skipping = [], 0, False
    for line in lines:
        if not skipping and line.lstrip().startswith("@emits"):
            skipping = True
        if skipping:
            depth += line.count("(") - line.count(")")
            if depth <= 0:
                skipping, depth = False, 0
            continue
        kept.append(line)
    return kept


@dataclass(frozen=True)
class Signature:
    """How a helper is called: its positional parameters after the inputs (the attributes a node
    must give), and those with defaults (given only where a node's value differs)."""

    inputs: int  # parameters that take tensors; -1 for *inputs
    required: tuple[str, ...]
    defaults: Mapping[str, Any]


def signature(helper: Any, skip: int = 0) -> Signature:
    """The signature of a function, or of a class's constructor, after `skip` leading parameters
    (`self`, an input width) and the inputs, which are annotated as tensors."""
    target = helper.__init__ if inspect.isclass(helper) else helper
    parameters = list(inspect.signature(target).parameters.values())[int(inspect.isclass(helper)) + skip :]
    if parameters and parameters[0].kind is inspect.Parameter.VAR_POSITIONAL:
        inputs, parameters = -1, parameters[1:]
    else:
        inputs = next((i for i, p in enumerate(parameters) if not _is_tensor(p)), len(parameters))
        parameters = parameters[inputs:]
    keyword = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD and p.name != "name"]
    return Signature(
        inputs,
        tuple(p.name for p in keyword if p.default is inspect.Parameter.empty),
        MappingProxyType({p.name: p.default for p in keyword if p.default is not inspect.Parameter.empty}),
    )


def _is_tensor(parameter: inspect.Parameter) -> bool:
    return str(parameter.annotation) in ("Tensor", "keras.KerasTensor")
