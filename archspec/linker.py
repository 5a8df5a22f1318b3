"""Resolve `include` and `extends` into one document.

An include contributes its blocks (and, transitively, the blocks it includes). `extends` names a
base spec: the base is resolved first and this file's values are merged over it, mappings key
by key and everything else replaced, so a variant is a few lines. Paths are relative to the file
that names them and must stay inside the spec roots; `archspec:NAME` names a bundled spec.
Every file is checked against the schema on its own, so errors point into the file that has them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from archspec import schema
from archspec.bundled import BUNDLED
from archspec.errors import Collector, Pos, SpecError
from archspec.loader import Map, load_file, load_text

BUNDLED_PREFIX = "archspec:"


def display_name(path: Path) -> str:
    """A short, stable file name for messages: relative to the working directory when possible."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Linker:
    def __init__(self, roots: list[Path]):
        self.roots = [root.resolve() for root in roots] + [BUNDLED]
        self.active: list[Path] = []  # files being resolved, to catch cycles

    def link_file(self, path: Path) -> Map:
        return self._resolve(path.resolve(), Pos(display_name(path), 1, 1))

    def link_text(self, text: str, name: str, base_dir: Path) -> Map:
        tree = load_text(text, name)
        problems = schema.validate(tree, Pos(name, 1, 1))
        if problems:
            raise SpecError(problems)
        return self._link_tree(tree, base_dir)

    def _resolve(self, path: Path, named_at: Pos) -> Map:
        if path in self.active:
            chain = " -> ".join(display_name(p) for p in [*self.active[self.active.index(path) :], path])
            raise SpecError.at(named_at, f"include cycle: {chain}")
        self.active.append(path)
        try:
            tree = _checked_file(path, path.stat().st_mtime_ns, display_name(path))
            return self._link_tree(tree, path.parent)
        finally:
            self.active.pop()

    def _link_tree(self, tree: Map, base_dir: Path) -> Map:
        errors = Collector()
        blocks = _empty_like(tree)
        for index, name in enumerate(tree.get("include", [])):
            where = tree["include"].at(index)
            try:
                included = self._resolve(self._find(name, base_dir, where), where)
            except SpecError as exc:
                errors.extend(exc)
                continue
            for block, body in included.get("blocks", {}).items():
                if block in blocks:
                    errors.error(where, f"block '{block}' is defined by two includes")
                blocks[block] = body
                blocks.key_pos[block] = included["blocks"].key_pos[block]
                blocks.value_pos[block] = included["blocks"].value_pos[block]
        if "extends" in tree:
            where = tree.at("extends")
            try:
                base = self._resolve(self._find(tree["extends"], base_dir, where), where)
            except SpecError as exc:
                errors.extend(exc)
                base = _empty_like(tree)
        else:
            base = _empty_like(tree)
        errors.raise_if_any()
        own = _without(tree, ("include", "extends"))
        if blocks:  # the file's own blocks are merged over those it includes
            holder = _empty_like(tree)
            holder["blocks"] = blocks
            holder.key_pos["blocks"] = holder.value_pos["blocks"] = tree.pos
            own = merge(holder, own, tree.pos)
        return merge(base, own, tree.pos)

    def _find(self, name: str, base_dir: Path, where: Pos) -> Path:
        if name.startswith(BUNDLED_PREFIX):
            path = (BUNDLED / name[len(BUNDLED_PREFIX) :]).resolve()
        else:
            path = (base_dir / name).resolve()
        if not any(path.is_relative_to(root) for root in self.roots):
            raise SpecError.at(
                where,
                f"'{name}' is outside the spec roots",
                hint="includes may name files beside the spec or below it, or 'archspec:NAME'",
            )
        if not path.is_file():
            raise SpecError.at(where, f"spec file '{name}' not found (looked for {display_name(path)})")
        return path


@lru_cache(maxsize=256)
def _checked_file(path: Path, mtime_ns: int, name: str) -> Map:
    """A file loaded and checked against the schema, once per process: block libraries are
    included by many specs. Callers never mutate the tree (merges build new mappings)."""
    tree = load_file(path, name)
    problems = schema.validate(tree, Pos(name, 1, 1))
    if problems:
        raise SpecError(problems)
    assert isinstance(tree, Map)  # validate() reports anything else
    return tree


def _empty_like(tree: Map) -> Map:
    out = Map()
    out.pos, out.key_pos, out.value_pos = tree.pos, {}, {}
    return out


def _without(tree: Map, keys: tuple[str, ...]) -> Map:
    out = _empty_like(tree)
    for key, value in tree.items():
        if key not in keys:
            out[key] = value
            out.key_pos[key] = tree.key_pos[key]
            out.value_pos[key] = tree.value_pos[key]
    return out


def merge(base: Map, over: Map, pos: Pos) -> Map:
    """`over` merged onto `base`: nested mappings key by key, any other value replaced whole."""
    out = Map()
    out.pos = getattr(over, "pos", pos)
    out.key_pos, out.value_pos = {}, {}
    for source in (base, over):
        for key, value in source.items():
            previous = out.get(key)
            if isinstance(previous, Map) and isinstance(value, Map):
                value = merge(previous, value, pos)
            out[key] = value
            out.key_pos[key] = source.key_pos.get(key, pos)
            out.value_pos[key] = source.value_pos.get(key, pos)
    return out
