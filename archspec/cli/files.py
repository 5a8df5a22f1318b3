"""What a command may write, and how: the rule every writing command follows.

A command writes a file only where nothing is, or over what is there when `--force` says so, and
never over one of its own inputs (the spec, a file it includes, the weights it reads), `--force`
or not. Every write goes through a partial file beside the target, renamed into place, so a reader
never sees half a file; a write that fails removes its partial file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from archspec.errors import ArchspecError, first_lines
from archspec.frontend.linker import display_name


def refuse(output: str | Path, force: bool, inputs: Sequence[Path]) -> None:
    """ArchspecError when a command must not write `output`: an existing file is replaced only
    with --force (a generated file is meant to be edited, and edits must not be lost silently),
    and never when it is one of the command's own inputs, --force or not."""
    target = Path(output)
    if target.is_dir():
        raise ArchspecError(f"{output} is a directory; name a file to write")
    if not target.exists():
        return
    if not target.is_file():  # a device, a FIFO: replacing it (as root, /dev/null) would be a disaster
        raise ArchspecError(f"{output} is not a regular file; name a file to write")
    for source in inputs:
        try:
            if os.path.samefile(target, source):
                raise ArchspecError(
                    f"{output} is an input of this command ({display_name(source)}); choose another file"
                )
        except OSError:
            continue
    if not force:
        raise ArchspecError(f"{output} exists; pass --force to replace it")


def write_atomic(
    output: str | Path, write: Callable[[Path], object], errors: tuple[type[Exception], ...] = (OSError,)
) -> None:
    """Write through a partial file beside `output`, then rename it into place; on failure (one of
    `errors`) the partial file is removed and an ArchspecError says why."""
    target = Path(output)
    partial = target.with_name(f".partial.{target.name}")  # keeps the suffix Keras insists on
    try:
        write(partial)
        partial.replace(target)
    except errors as exc:
        partial.unlink(missing_ok=True)
        raise ArchspecError(f"cannot write {output}: {getattr(exc, 'strerror', None) or first_lines(exc)}") from None
