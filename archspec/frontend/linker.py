"""Resolve `include` and `extends` into one document.

An include contributes its blocks (and, transitively, the blocks it includes). `extends` names a
base spec: the base is resolved first and this file's values are merged over it, mappings key
by key and everything else replaced, so a variant is a few lines. Paths are relative to the file
that names them and must stay inside the spec roots; `archspec:NAME` names a bundled spec.
Every file is checked against the schema on its own, so errors point into the file that has them.

The spec roots are the folder of the spec being loaded, the root of the project it lies in (the
nearest folder above it with a `.archspec-root` file, or a Git or Mercurial checkout), any the
caller adds, and the bundled specs: so `variants/wide.yaml` may extend `../base/mini.yaml` in one
project, and no spec can read a file outside its project.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from archspec.bundled import BUNDLED
from archspec.errors import Collector, Pos, SpecError, printable
from archspec.frontend import schema
from archspec.frontend.loader import Map, Seq, check_path, decode, load_text, read_bounded
from archspec.limits import MAX_LINK_DEPTH, MAX_LINKED_BYTES, MAX_LINKED_FILES

BUNDLED_PREFIX = "archspec:"
MAX_SHOWN = 120  # characters of a path shown in a message
MAX_CLASS_NAME = 200  # characters of one class name, as the schema allows in a written list


def display_name(path: Path) -> str:
    """A short, stable file name for messages: relative to the working directory when possible,
    control characters escaped, and a very long path shortened in the middle."""
    try:
        text = str(path.relative_to(Path.cwd()))
    except ValueError:
        text = str(path)
    text = printable(text)
    return text if len(text) <= MAX_SHOWN else f"{text[:60]}...{text[-40:]} ({len(text)} characters)"


PROJECT_MARKERS = (".archspec-root", ".git", ".hg")  # what makes a folder a project's root


def project_root(folder: Path) -> Path | None:
    """The root of the project a spec's folder lies in: the nearest folder, the spec's own or
    one above it, that holds a `.archspec-root` file or is a Git or Mercurial checkout."""
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return None


def resolve(path: Path, where: Pos) -> Path:
    """The absolute path, symlinks followed; SpecError for a path that cannot name a file or whose
    symlinks loop."""
    check_path(path, where)
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, before Python 3.13
        reason = getattr(exc, "strerror", None) or "its symbolic links form a loop"
        raise SpecError.at(where, f"cannot read spec: {reason}") from None


class Linker:
    def __init__(self, roots: list[Path]):
        self.roots = [root.resolve() for root in roots] + [BUNDLED]
        self.active: list[Path] = []  # files being resolved, to catch cycles
        self.files: list[Path] = []  # each file read, once, in the order first read
        self.opened = 0  # files read, each time one is included or extended
        self.bytes = 0
        self.variants: set[str] = set()  # the files that extend another: what they write changes it

    def link_file(self, path: Path) -> Map:
        where = Pos(display_name(path), 1, 1)
        return self._resolve(resolve(path, where), where)

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
        if len(self.active) >= MAX_LINK_DEPTH:
            raise SpecError.at(named_at, f"include and extends are nested more than {MAX_LINK_DEPTH} files deep")
        name = display_name(path)
        data = read_bounded(path, name)
        self.opened, self.bytes = self.opened + 1, self.bytes + len(data)
        if path not in self.files:
            self.files.append(path)
        if self.opened > MAX_LINKED_FILES or self.bytes > MAX_LINKED_BYTES:
            raise SpecError.at(
                named_at,
                f"linking this spec reads more than {MAX_LINKED_FILES} files or {MAX_LINKED_BYTES} bytes",
                hint="each include and extends counts, so files that include each other many times multiply",
            )
        self.active.append(path)
        try:
            return self._link_tree(_checked(data, name), path.parent)
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
            self.variants.add(tree.pos.file)
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
        if isinstance(own.get("classes"), str):
            own = self.with_class_file(own, base_dir)
        if blocks:  # the file's own blocks are merged over those it includes
            holder = _empty_like(tree)
            holder["blocks"] = blocks
            holder.key_pos["blocks"] = holder.value_pos["blocks"] = tree.pos
            own = merge(holder, own, tree.pos)
        merged = merge(base, own, tree.pos)
        if "extends" in tree:  # a variant may override part of a block; the whole must have a body
            for name, block in merged.get("blocks", {}).items():
                if isinstance(block, Map) and "body" not in block:
                    errors.error(
                        merged["blocks"].key_pos.get(name, tree.pos),
                        f"block '{name}' has no 'body', here or in the spec it extends",
                        hint="a variant's block without a body overrides only the params or description of the base's",
                    )
            errors.raise_if_any()
        return merged

    def with_class_file(self, tree: Map, base_dir: Path, also_root: Path | None = None) -> Map:
        """The tree with its `classes:` file name replaced by the file's names, one per line
        (blank lines skipped), each at the position of the `classes:` value. A name relative to
        `base_dir`, which must lie in the spec roots or `also_root`."""
        where = tree.at("classes")
        roots = self.roots
        self.roots = [*roots, *([also_root.resolve()] if also_root else [])]
        try:
            path = self._find(tree["classes"], base_dir, where, "class file")
        finally:
            self.roots = roots
        try:
            text = read_bounded(path, display_name(path)).decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError.at(where, f"class file '{tree['classes']}' is not UTF-8 text") from None
        names = Seq(line.strip() for line in text.splitlines() if line.strip())
        names.pos, names.item_pos = where, [where] * len(names)
        if not names or any(len(n) > MAX_CLASS_NAME for n in names):
            raise SpecError.at(
                where, f"class file '{tree['classes']}' must hold names of 1 to {MAX_CLASS_NAME} characters"
            )
        replaced = _without(tree, ())
        replaced["classes"] = names
        return replaced

    def _find(self, name: str, base_dir: Path, where: Pos, what: str = "spec file") -> Path:
        if name.startswith(BUNDLED_PREFIX):
            path = resolve(BUNDLED / name[len(BUNDLED_PREFIX) :], where)
        else:
            path = resolve(base_dir / name, where)
        if not any(path.is_relative_to(root) for root in self.roots):
            raise SpecError.at(
                where,
                f"'{name}' is outside the spec roots",
                hint=(
                    "a spec may name files beside it or below it, anywhere in its project (the folder "
                    "that holds .archspec-root, or the Git or Mercurial checkout), or 'archspec:NAME'; "
                    "the command line's --root DIR adds a folder"
                ),
            )
        if not path.exists():
            raise SpecError.at(where, f"{what} '{name}' not found (looked for {display_name(path)})")
        return path


@lru_cache(maxsize=32)
def _checked(data: bytes, name: str) -> Map:
    """A file's bytes parsed and checked against the schema, once per process for the same bytes:
    block libraries are included by many specs. Callers never mutate the tree (merges build new
    mappings)."""
    tree = decode(data, name)
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
