"""Keep MediaPipe's C++ log lines off stderr unless ``FER_GRAPH_VERBOSE`` is set.

MediaPipe Tasks (absl logging) and TFLite write straight to file descriptor 2 from C++, so neither
Python's ``logging`` nor ``GLOG_minloglevel`` silences them (about 4 lines per landmarker created).
:func:`quiet_stderr` points fd 2 at a temporary file for the duration of a block, puts the original
fd 2 back and writes to ``sys.stderr`` every captured line that is not MediaPipe noise, or every
captured line when the block raised.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

__all__ = ["VERBOSE_ENV_VAR", "is_noise", "quiet_stderr", "verbose"]

#: Environment variable that, set to ``1`` (or ``true``, ``yes``, ``on``), leaves stderr untouched.
VERBOSE_ENV_VAR = "FER_GRAPH_VERBOSE"

# absl info/warning lines ("W0000 00:00:1796160230.090491    4622 face_landmarker_graph.cc:181] ..."),
# TFLite's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." and absl's pre-init banners.
_NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\s]+:\d+\] .*"
    rb"|INFO: .*TensorFlow Lite.*"
    rb"|WARNING: Logging before InitGoogle\(\) is written to STDERR"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)\r?\n?$"
)

_lock = threading.Lock()
_depth = 0  # nesting depth across threads: fd 2 is process-wide, the outermost block owns the capture
_saved_fd: int | None = None
_capture: IO[bytes] | None = None  # reused by every block of this process
_capture_pid = 0
_failed = False


def verbose() -> bool:
    """Whether ``FER_GRAPH_VERBOSE`` asks for MediaPipe's logs (read at each call)."""
    return os.environ.get(VERBOSE_ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")


def is_noise(line: bytes) -> bool:
    """Whether one captured stderr line is a MediaPipe/TFLite info or warning line (dropped when quiet)."""
    return _NOISE.match(line) is not None


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Capture fd 2 during the block; afterwards re-emit to ``sys.stderr`` what is not MediaPipe noise.

    Nested and concurrent blocks share one capture, released by the last block to exit. When any of
    them raised, every captured line is re-emitted. A no-op when :func:`verbose` is true or when fd 2
    cannot be redirected (``OSError`` from ``os.dup``/``os.dup2`` or the temporary file).
    """
    if verbose():
        yield
        return
    _enter()
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        _exit(failed)


def _flush_stderr() -> None:
    if sys.stderr is not None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):  # closed or broken stream
            pass


def _capture_file() -> IO[bytes]:
    """This process's capture file, emptied (kept open between blocks: creating one costs ~0.1 ms)."""
    global _capture, _capture_pid
    if _capture is None or _capture_pid != os.getpid():  # a forked child must not share the parent's
        _capture, _capture_pid = tempfile.TemporaryFile(), os.getpid()
    _capture.seek(0)
    _capture.truncate()
    return _capture


def _enter() -> None:
    global _depth, _saved_fd, _failed
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        _failed = False
        _flush_stderr()
        try:
            capture = _capture_file()
            _saved_fd = os.dup(2)
            os.dup2(capture.fileno(), 2)
        except OSError:
            _restore()


def _exit(failed: bool) -> None:
    global _depth, _failed
    with _lock:
        _failed = _failed or failed
        _depth -= 1
        if _depth > 0 or _saved_fd is None:
            return
        _flush_stderr()
        _restore()
        _capture.seek(0)
        data = _capture.read()
        everything = _failed
    _emit(data if everything else b"".join(ln for ln in data.splitlines(keepends=True) if not is_noise(ln)))


def _restore() -> None:
    """Point fd 2 back at the saved descriptor and close it."""
    global _saved_fd
    if _saved_fd is not None:
        os.dup2(_saved_fd, 2)
        os.close(_saved_fd)
    _saved_fd = None


def _emit(data: bytes) -> None:
    if not data:
        return
    if sys.stderr is None:
        os.write(2, data)
        return
    sys.stderr.write(data.decode(errors="replace"))
    _flush_stderr()
