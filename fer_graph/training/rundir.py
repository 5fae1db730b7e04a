"""Run directories as atomic units: written in a hidden sibling, verified by a manifest, renamed into place.

A run directory that exists is complete: every file ``train`` wrote is listed with its sha256 in
``manifest.json``, written last. ``train`` works in ``.<name>.partial-<pid>`` beside the target and renames
it into place at the end, so an interrupted or killed run never leaves a half-written directory under the
target name, and an existing run is only ever replaced whole (``force``). Loaders call :func:`verify_run`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import __version__
from .._io import read_json, write_json
from ..exceptions import FerGraphError

__all__ = ["RunExistsError", "IncompleteRunError", "MANIFEST", "staged_run", "write_manifest", "verify_run",
           "is_complete_run"]

#: File name of the manifest; written last.
MANIFEST = "manifest.json"


class RunExistsError(FerGraphError, FileExistsError):
    """The target run directory exists (pass ``force`` / ``--force`` to replace it whole)."""


class IncompleteRunError(FerGraphError, ValueError):
    """A run directory without a valid manifest, or whose files differ from it (missing, changed)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(run: Path) -> dict[str, Any]:
    """List every file below ``run`` (sorted, POSIX relative paths) with its sha256 in ``run/manifest.json``."""
    files = sorted(p for p in run.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {"format": 1, "fer_graph_version": __version__,
                "files": {p.relative_to(run).as_posix(): _sha256(p) for p in files}}
    write_json(run / MANIFEST, manifest)
    return manifest


def verify_run(run: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a complete run; every listed file must exist with its recorded sha256.

    Raises:
        IncompleteRunError: no or unreadable ``manifest.json`` (an interrupted run, or a folder not written by
            ``fer-graph train``), or a listed file missing or changed; the message names the files.
    """
    run = Path(run)
    path = run / MANIFEST
    if not path.is_file():
        raise IncompleteRunError(f"{run}: incomplete run: no {MANIFEST} (interrupted, or not written by "
                                 "fer-graph train); train it again")
    try:
        manifest = read_json(path)
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IncompleteRunError(f"{path}: unreadable manifest ({exc})") from None
    missing = [f for f in files if not (run / f).is_file()]
    if missing:
        raise IncompleteRunError(f"{run}: incomplete run: {len(missing)} file(s) of {MANIFEST} missing: {missing[:5]}")
    changed = [f for f, digest in files.items() if _sha256(run / f) != digest]
    if changed:
        raise IncompleteRunError(f"{run}: files changed since the run was written: {changed[:5]}")
    return manifest


def is_complete_run(run: str | os.PathLike) -> bool:
    """Whether :func:`verify_run` accepts ``run``."""
    try:
        verify_run(run)
    except IncompleteRunError:
        return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(target: Path) -> None:
    """Delete ``.<name>.partial-<pid>`` siblings of processes that no longer run (killed trainings)."""
    for p in target.parent.glob(f".{target.name}.partial-*"):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise RunExistsError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise RunExistsError(f"{target}: a run directory exists; pass --force to replace it whole, or choose "
                             "another --out")


@contextmanager
def staged_run(target: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Yield a fresh hidden sibling of ``target`` to write a run into; on success write its manifest and
    rename it onto ``target`` (an existing one, with ``force``, is moved aside first and deleted after).
    On an exception the sibling is deleted and ``target`` is untouched.

    Raises:
        RunExistsError: ``target`` exists, is not empty and ``force`` is false (checked before any work).
    """
    target = Path(target)
    _check_target(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target)
    work = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        yield work
        write_manifest(work)
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            _check_target(target, force)  # another process may have written it meanwhile
            os.replace(target, old)
        os.replace(work, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
