"""rich progress bars for the library's ``on_progress`` / ``on_epoch`` callbacks (only the CLI imports rich)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["task_progress", "rate_progress", "train_progress"]


@contextmanager
def task_progress(console: Console, *, disable: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """Yield ``update(task, done, total)``: one bar per task name."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=disable) as progress:
        tasks: dict[str, int] = {}

        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        yield update


@contextmanager
def rate_progress(console: Console, description: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)`` for one bar that also shows items per second."""
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task(description, total=None, rate="")
        t0 = time.perf_counter()

        def update(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - t0, 1e-9)
            progress.update(task, completed=done, total=total, rate=f"{rate:.0f} {unit}/s")

        yield update


@contextmanager
def train_progress(console: Console, arch: str, epochs: int):
    """Yield ``(on_fold, on_epoch)`` callbacks of :func:`fer_graph.training.train` driving one bar."""
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(arch, total=None, info="")

        def on_fold(k: int, n: int) -> None:
            progress.update(task, description=f"{arch} fold {k + 1}/{n}", completed=0, total=epochs)

        def on_epoch(k: int, log) -> None:
            progress.update(task, completed=log.epoch,
                            info=f"epoch {log.epoch} loss {log.train_loss:.3f} val acc {log.val_accuracy:.3f}")

        yield on_fold, on_epoch
