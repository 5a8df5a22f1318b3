"""Keras on TensorFlow, imported before anything else of the backend: Keras's backend is chosen
(unless KERAS_BACKEND says otherwise), and TensorFlow is imported without the lines its native
libraries log as they load (which CPU instructions it was built for, that oneDNN is on), which
say nothing about the user's model and would bury a command's own output.

TF_CPP_MIN_LOG_LEVEL (1 unless set: no INFO lines) quiets TensorFlow's own logger. oneDNN's
notice goes through absl's logger, which no environment variable quiets (TF_ENABLE_ONEDNN_OPTS=0
would, by turning oneDNN's kernels off, which changes the numbers computed), so while TensorFlow
loads, standard error is captured and written back without absl's INFO lines. With
TF_CPP_MIN_LOG_LEVEL=0, or once TensorFlow is imported, nothing is changed.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# An INFO line of absl (`I0101 12:00:00.000000  1234 port.cc:153] ...`), and absl's own notice
# that it logs to standard error before it is set up, which precedes the first line it logs.
_INFO = re.compile(rb"I\d{4} [\d:.]+ +\d+ [^\s\]]+:\d+\] |WARNING: All log messages before absl::InitializeLog")


@contextmanager
def _without_info_lines() -> Iterator[None]:
    """Standard error (the file descriptor, which native code writes) captured while the block
    runs, then written back without absl's INFO lines."""
    _flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error: nothing to quiet
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            _flush()
            os.dup2(saved, 2)
            captured.seek(0)
            with open(saved, "wb") as stderr:  # closes the saved descriptor
                stderr.writelines(line for line in captured if not _INFO.match(line))


def _flush() -> None:
    """What Python has buffered for standard error, written before the descriptor changes."""
    if sys.stderr is not None:  # None where a process has no console
        sys.stderr.flush()


def _import_tensorflow() -> None:
    if "tensorflow" in sys.modules or os.environ["KERAS_BACKEND"] != "tensorflow":
        return
    shown = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1").strip() == "0"  # INFO lines asked for
    with nullcontext() if shown else _without_info_lines():
        import tensorflow  # noqa: F401


_import_tensorflow()
