"""The ``fer-graph`` command line: a thin typer skin over the Python API."""

from __future__ import annotations

from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: process settings first (before torch loads), then the commands."""
    from ..runtime import configure

    configure()
    app()
