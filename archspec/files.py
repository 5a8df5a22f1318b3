"""What a command may write, and how: the one rule every writing command follows.

A command writes a file only where nothing is, or over what is there when `--force` says so, and
never over one of its own inputs (the spec and every file it includes or extends, the weights
it reads, the module it imports, the images it reads), `--force` or not. Every write goes
through a partial file beside the target that this write itself created, exclusively and under
a name no one else has (`.NAME.x8k2j1q.SUFFIX`), then renamed into place, so a reader never sees
half a file and no existing file, a user's or an input, is ever touched by a partial write; a
write that fails removes its own partial file and nothing else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from archspec.errors import ArchspecError, first_lines
from archspec.frontend.linker import display_name

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: a partial file gets the permissions a plain new file would


def refuse(output: str | Path, force: bool, inputs: Iterable[Path], directory: bool = False) -> None:
    """ArchspecError when a command must not write `output`: an existing file is replaced only
    with --force (a generated file is meant to be edited, and edits must not be lost silently),
    never when it is one of the command's own inputs, --force or not, and never when it is not
    a regular file (a directory, a device, a FIFO). The folder it goes in must exist."""
    target = Path(output)
    if not target.parent.is_dir():
        raise ArchspecError(f"cannot write {output}: its folder {display_name(target.parent)} does not exist")
    if target.is_dir() and not directory:
        raise ArchspecError(f"{output} is a directory; name a file to write")
    if not target.exists() and not target.is_symlink():
        return
    if not (target.is_file() or (directory and target.is_dir())):  # /dev/null, a FIFO: never replaced
        raise ArchspecError(f"{output} is not a regular file; name a file to write")
    for source in inputs:
        try:
            same = os.path.samefile(target, source)
        except OSError:
            continue
        if same:
            raise ArchspecError(f"{output} is an input of this command ({display_name(source)}); choose another file")
    if not force:
        raise ArchspecError(f"{output} exists; pass --force to replace it")


@contextmanager
def partial(target: Path, directory: bool = False) -> Iterator[Path]:
    """A new, empty file (or folder) beside `target` that this call created under a random name
    and keeps its suffix (Keras reads `.weights.h5` and `.keras` by it); removed on the way out
    unless it was moved into place."""
    prefix, suffix = f".{target.name}.", "".join(target.suffixes)
    if directory:
        made = Path(tempfile.mkdtemp(suffix, prefix, target.parent))
    else:
        handle, name = tempfile.mkstemp(suffix, prefix, target.parent)
        os.close(handle)
        made = Path(name)
        made.chmod(0o666 & ~_UMASK)
    try:
        yield made
    finally:
        if made.is_dir() and not made.is_symlink():
            shutil.rmtree(made, ignore_errors=True)
        else:
            made.unlink(missing_ok=True)


def write_atomic(
    output: str | Path, write: Callable[[Path], object], errors: tuple[type[Exception], ...] = (OSError,)
) -> None:
    """`write` the file at a partial path, then rename it into place; on failure (one of `errors`)
    an ArchspecError says why, and only the partial file is removed."""
    target = Path(output)
    try:
        with partial(target) as path:
            write(path)
            path.replace(target)
    except errors as exc:
        raise ArchspecError(f"cannot write {output}: {getattr(exc, 'strerror', None) or first_lines(exc)}") from None
