"""Located diagnostics and the one base of archspec's errors.

Every problem in a spec points at the text that caused it (`Pos`, `Diagnostic`). Every error
archspec raises for a user to fix is an `ArchspecError`: a message, the spec position it
concerns where there is one, and a hint; `report()` is what the command line prints, and
`exit_status` what it exits with (2 for a command asked wrongly, 1 for everything else). The
command line catches this one class, once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Pos:
    """A place in a spec file; line and column are 1-based, as editors count them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    pos: Pos
    message: str
    hint: str | None = None
    severity: str = "error"  # or "note": something a valid spec should know, printed, not failed

    def format(self) -> str:
        text = f"{printable(str(self.pos))}: {self.severity}: {_bounded(self.message)}"
        return text + (f"\n  hint: {_bounded(self.hint)}" if self.hint else "")


MAX_MESSAGE = 1000  # characters: a message quotes what the spec wrote, which may be a megabyte
MAX_QUOTED = 60  # characters of one value quoted in a message


def brief(value: int) -> str:
    """An integer for a message: whole when short, else its sign and digit count. Never converts
    a huge integer to text, which Python refuses past 4300 digits (and which takes time)."""
    if abs(value) < 10**30:
        return str(value)
    digits = int(abs(value).bit_length() * 0.30103) + 1  # log10(2): an estimate within one digit
    return f"{'-' if value < 0 else ''}a number of about {digits} digits"


def shown(value: object) -> str:
    """A value as a message quotes it: repr'd, and cut short when long (it may be a megabyte)."""
    text = brief(value) if isinstance(value, int) and not isinstance(value, bool) else repr(value)
    return text if len(text) <= MAX_QUOTED else f"{text[:40]}... ({len(text)} characters)"


def printable(text: str) -> str:
    """Text for a terminal: every character that is not printable (a line break, an escape that
    would recolour or move the cursor, a byte that is not UTF-8) written as its escape."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def first_lines(exc: BaseException) -> str:
    """The first lines of an error message, for one line of ours: Keras's list every layer that
    failed."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


def _bounded(text: str) -> str:
    """One line of at most about MAX_MESSAGE characters, cut in the middle where longer, with no
    character a terminal would act on (a message quotes file names and what a spec wrote)."""
    text = printable(" ".join(text.splitlines()))
    if len(text) <= MAX_MESSAGE:
        return text
    return f"{text[: MAX_MESSAGE // 2]} [... {len(text) - MAX_MESSAGE} characters ...] {text[-MAX_MESSAGE // 2 :]}"


class ArchspecError(Exception):
    """An error a user can fix: what is wrong, where in a spec (if it concerns one) and a hint."""

    exit_status = 1

    def __init__(self, message: str, pos: Pos | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.pos, self.hint = pos, hint

    def report(self) -> str:
        """The lines the command line prints: `FILE:LINE:COL: error: ...` where the error concerns
        spec text, else `error: ...`, then `  hint: ...` where there is one."""
        message = _bounded(str(self))
        text = f"{printable(str(self.pos))}: error: {message}" if self.pos else f"error: {message}"
        return text + (f"\n  hint: {_bounded(self.hint)}" if self.hint else "")


class UsageError(ArchspecError):
    """A command asked in a way that cannot work, whatever the files hold."""

    exit_status = 2


class SpecError(ArchspecError):
    """One or more diagnostics; raised by a pipeline stage once it has found all it can."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(set(diagnostics), key=lambda d: (d.pos, d.message))
        super().__init__("\n".join(d.format() for d in self.diagnostics))
        self.pos = self.diagnostics[0].pos if self.diagnostics else None

    def report(self) -> str:
        return str(self)

    @classmethod
    def at(cls, pos: Pos, message: str, hint: str | None = None) -> SpecError:
        return cls([Diagnostic(pos, message, hint)])


class Collector:
    """Gathers diagnostics so a stage can report every error, not only the first.

    A mistake in a block that is instantiated many times (a block repeated 20 times) is
    reported once, with a count, instead of twenty times.
    """

    def __init__(self) -> None:
        self._found: dict[tuple[Pos, str], tuple[Diagnostic, int]] = {}

    def error(self, pos: Pos, message: str, hint: str | None = None, group: str | None = None) -> None:
        """Record an error. Errors with the same position and `group` are one mistake seen in
        several block instances; without a group, only identical messages are merged."""
        key = (pos, group or message)
        first, count = self._found.get(key, (Diagnostic(pos, message, hint), 0))
        self._found[key] = (first, count + 1)

    def extend(self, err: SpecError) -> None:
        for d in err.diagnostics:
            self.error(d.pos, d.message, d.hint)

    def __bool__(self) -> bool:
        return bool(self._found)

    def raise_if_any(self) -> None:
        if not self._found:
            return
        diagnostics = []
        for first, count in self._found.values():
            if count > 1:
                others = "instance" if count == 2 else "instances"
                first = Diagnostic(first.pos, f"{first.message} (and in {count - 1} more {others})", first.hint)
            diagnostics.append(first)
        raise SpecError(diagnostics)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """A hint naming the closest known word, if one is close enough to be a likely typo."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
