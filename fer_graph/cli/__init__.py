"""The ``fer-graph`` command line: a thin typer skin over the Python API."""

from __future__ import annotations

import os

# Two threads and any other load make OpenMP's default busy-wait policy stall small steps by 28-55x
# (measured here, see README "Threads"); passive waiting costs nothing measurable. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .app import app  # noqa: E402

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
