"""Process-wide settings, applied once at a program's entry point (the ``fer-graph`` command, scripts under
``experiments/``), never by library functions."""

from __future__ import annotations

import os

__all__ = ["configure"]


def configure(*, threads: int | None = None, verbose: bool = False) -> None:
    """Set the process's thread and logging settings.

    - ``OMP_WAIT_POLICY=PASSIVE`` unless already set: with two threads and any other load, OpenMP's default
      busy-waiting stalls small training steps many times over (docs/speed.md "Threads"); it must be set
      before torch loads, and spawned fold workers inherit it.
    - ``threads``: torch's intra-op thread count (``torch.set_num_threads``); ``None`` leaves torch's default.
    - ``verbose``: ``FER_GRAPH_VERBOSE=1``, which lets MediaPipe's C++ log lines through to stderr.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if verbose:
        os.environ["FER_GRAPH_VERBOSE"] = "1"
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
