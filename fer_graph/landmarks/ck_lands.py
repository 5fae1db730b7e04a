"""Reader for the 68-point "CK+ lands" landmark sequences (``emotion.csv`` + ``SXXX/omlands.csv``).

Layout (see ``data/README.md``)::

    CK+/
      emotion.csv          subject;file;emotion   (header; emotion 1..6, see CK_LANDS_CODES)
      S005/omlands.csv     001; x1; y1; ...; x68; y68;    (no header, one row per frame, pixels)
      S010/omlands.csv
      ...

Each ``omlands.csv`` row is one video frame: the zero-padded sequence id, then the 68 iBUG points as
``x; y`` pairs in pixels (y down), then an empty field left by the trailing ``"; "``. Rows of one sequence
are in time order (first row = neutral onset, last row = apex) but sequences are not always contiguous or
sorted in the file, so rows are grouped by id.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..exceptions import DatasetLayoutError, LandmarkFileError, UnknownLabelError
from ..labels import CK_LANDS_CODES
from ._text import read_text
from ._types import LandmarkSet
from .frames import resample_frames

__all__ = ["CKLandsSequence", "read_ck_lands", "read_ck_lands_sequences", "read_omlands", "read_emotion_csv"]

NUM_POINTS = 68


@dataclass(frozen=True)
class CKLandsSequence:
    """One CK+ video sequence of 68-point landmarks.

    Attributes:
        subject: CK+ subject id, e.g. ``"S010"``.
        sequence: zero-padded sequence id within the subject, e.g. ``"001"``.
        frames: ``(T, 68, 2)`` float32 landmarks in pixels, time order; ``frames[0]`` is the neutral
            onset, ``frames[-1]`` the apex.
        label: canonical label name, or ``None`` for an unlabelled sequence.
    """

    subject: str
    sequence: str
    frames: np.ndarray
    label: str | None

    @property
    def sequence_id(self) -> str:
        return f"{self.subject}_{self.sequence}"


def read_emotion_csv(path: str | os.PathLike) -> dict[tuple[str, str], str]:
    """Read ``emotion.csv`` into ``{(subject, sequence): canonical label}``.

    Sequence ids stay zero-padded strings (``"001"``), never ints. UTF-8, with or without a byte-order mark.

    Raises:
        DatasetLayoutError: the file does not exist.
        LandmarkFileError: not UTF-8, wrong header, wrong field count, or a duplicate (subject, file) pair;
            the message gives ``path:line``.
        UnknownLabelError: an emotion code outside 1..6 (``path:line`` and the valid codes).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: emotion.csv not found (expected subject;file;emotion rows)")
    labels: dict[tuple[str, str], str] = {}
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=";")
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if header != ["subject", "file", "emotion"]:
            raise LandmarkFileError(f"{path}:1: expected header 'subject;file;emotion', got {';'.join(header)!r}")
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise LandmarkFileError(f"{path}:{line}: expected 3 fields subject;file;emotion, got {len(row)}")
            subject, seq, code = (c.strip() for c in row)
            try:
                label = CK_LANDS_CODES[int(code)]
            except (ValueError, KeyError):
                raise UnknownLabelError(
                    f"{path}:{line}: unknown emotion code {code!r}; expected one of "
                    + ", ".join(f"{k}={v}" for k, v in CK_LANDS_CODES.items())
                ) from None
            key = (subject, seq)
            if key in labels:
                raise LandmarkFileError(f"{path}:{line}: duplicate entry for subject {subject} file {seq}")
            labels[key] = label
    except csv.Error as exc:  # a NUL byte, an unclosed quote at the end of the file
        raise LandmarkFileError(f"{path}:{reader.line_num}: not a readable CSV row: {exc}") from None
    return labels


def read_omlands(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read one subject's ``omlands.csv`` into ``{sequence id: (T, 68, 2) float32 pixels}``.

    Rows are grouped by their first field (the sequence id) in file order, so a sequence whose rows are
    not contiguous is still assembled in time order. UTF-8, with or without a byte-order mark.

    Raises:
        LandmarkFileError: not UTF-8, no rows, a row without 136 coordinates, a non-numeric, NaN or
            infinite coordinate; the message gives ``path:line`` and the offending field.
    """
    path = Path(path)
    rows: dict[str, list[list[float]]] = {}
    for line_no, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.rstrip("\r").split(";")]
        if fields and fields[-1] == "":
            fields.pop()  # the trailing "; " leaves an empty last field
        if len(fields) != 1 + 2 * NUM_POINTS:
            got = len(fields) - 1
            raise LandmarkFileError(
                f"{path}:{line_no}: expected a sequence id and {2 * NUM_POINTS} coordinates "
                f"({NUM_POINTS} x;y pairs), got {got} coordinate{'' if got == 1 else 's'}"
                + (f" ({got // 2} points)" if got > 0 and got % 2 == 0 else "")
            )
        seq = fields[0]
        try:
            coords = [float(v) for v in fields[1:]]
        except ValueError:
            bad = next(i for i, v in enumerate(fields[1:], start=1) if not _is_float(v))
            raise LandmarkFileError(f"{path}:{line_no}: field {bad + 1} is not a number: {fields[bad]!r}") from None
        if not all(math.isfinite(c) for c in coords):
            bad = next(i for i, c in enumerate(coords, start=1) if not math.isfinite(c))
            raise LandmarkFileError(f"{path}:{line_no}: field {bad + 1} is {fields[bad]!r} (NaN/inf)")
        rows.setdefault(seq, []).append(coords)
    if not rows:
        raise LandmarkFileError(f"{path}:1: no landmark rows (empty file); expected one row per frame: "
                                f"sequence id; x1; y1; ...; x{NUM_POINTS}; y{NUM_POINTS};")
    return {seq: np.asarray(r, dtype=np.float32).reshape(len(r), NUM_POINTS, 2) for seq, r in rows.items()}


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def read_ck_lands_sequences(root: str | os.PathLike) -> list[CKLandsSequence]:
    """Read every sequence (labelled or not) under a ``CK+`` folder, sorted by subject and sequence.

    Args:
        root: the folder holding ``emotion.csv`` and the ``SXXX/omlands.csv`` files.

    Returns:
        One :class:`CKLandsSequence` per (subject, sequence) with landmarks; ``label`` is ``None`` for
        sequences absent from ``emotion.csv`` (usable for temporal or self-supervised models).

    Raises:
        DatasetLayoutError: ``root`` or ``emotion.csv`` is missing, no ``omlands.csv`` file is found,
            or a labelled sequence has no landmark rows.
        LandmarkFileError, UnknownLabelError: see :func:`read_emotion_csv` and :func:`read_omlands`.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: not a folder (expected the CK+ folder with emotion.csv)")
    labels = read_emotion_csv(root / "emotion.csv")
    files = sorted(root.glob("*/omlands.csv"))
    if not files:
        raise DatasetLayoutError(f"{root}: no SXXX/omlands.csv landmark files found")
    sequences: list[CKLandsSequence] = []
    seen: set[tuple[str, str]] = set()
    for file in files:
        subject = file.parent.name
        for seq, frames in sorted(read_omlands(file).items()):
            seen.add((subject, seq))
            sequences.append(CKLandsSequence(subject, seq, frames, labels.get((subject, seq))))
    missing = sorted(set(labels) - seen)
    if missing:
        shown = ", ".join(f"{s}_{q}" for s, q in missing[:5])
        raise DatasetLayoutError(
            f"{root / 'emotion.csv'}: {len(missing)} labelled sequence(s) have no landmark rows, e.g. {shown}"
        )
    return sequences


def read_ck_lands(root: str | os.PathLike, *, apex_frames: int = 1, sequence_frames: int = 0,
                  frame_sampling: str = "uniform") -> LandmarkSet:
    """Labelled samples of the CK+ lands data: apex frame(s) with the sequence's neutral onset.

    Args:
        root: the ``CK+`` folder (``emotion.csv`` + ``SXXX/omlands.csv``).
        apex_frames: each of the last ``K`` frames of a labelled sequence becomes a sample (default 1:
            the apex only). The onset frame itself is never a sample, so at most ``T - 1`` per sequence.
            Samples of one sequence share ``subject`` and ``sequence_id``, so splits keep them together.
        sequence_frames: > 0: also give each sample its sequence as ``frames``, that many frames from onset to
            apex (:func:`fer_graph.landmarks.frames.resample_frames` with ``frame_sampling``); needs
            ``apex_frames=1`` (one sample per sequence).

    Returns:
        :class:`LandmarkSet` with ``points`` and ``onset`` of shape ``(N, 68, 2)`` float32 in pixels,
        ``sample_ids`` like ``"S010_001@17"`` (0-based frame index), ``source="ck-lands"``; ``frames``
        ``(N, sequence_frames, 68, 2)`` when asked for.

    Raises:
        ValueError: ``apex_frames < 1``, ``sequence_frames`` with ``apex_frames > 1``, or an unknown
            ``frame_sampling``.
        LandmarkFileError: ``emotion.csv`` has no rows after its header.
        DatasetLayoutError, LandmarkFileError, UnknownLabelError: see :func:`read_ck_lands_sequences`.
    """
    if apex_frames < 1:
        raise ValueError(f"apex_frames={apex_frames}; expected an integer >= 1")
    if sequence_frames and apex_frames != 1:
        raise ValueError(f"sequence_frames={sequence_frames} needs apex_frames=1 (one sample per sequence)")
    points, onset, labels, subjects, sample_ids, sequence_ids, frames = [], [], [], [], [], [], []
    for seq in read_ck_lands_sequences(root):
        if seq.label is None:
            continue
        t = len(seq.frames)
        if t < 2:
            raise LandmarkFileError(
                f"{Path(root) / seq.subject / 'omlands.csv'}: labelled sequence {seq.sequence} has {t} frame; "
                "need an onset and an apex frame"
            )
        for i in range(max(1, t - apex_frames), t):
            points.append(seq.frames[i])
            onset.append(seq.frames[0])
            labels.append(seq.label)
            subjects.append(seq.subject)
            sample_ids.append(f"{seq.sequence_id}@{i}")
            sequence_ids.append(seq.sequence_id)
            if sequence_frames:
                frames.append(resample_frames(np.asarray(seq.frames), sequence_frames, frame_sampling))
    if not points:
        raise LandmarkFileError(f"{Path(root) / 'emotion.csv'}:2: no subject;file;emotion rows after the header; "
                                "expected one row per labelled sequence, e.g. S005;001;3")
    return LandmarkSet(
        points=np.stack(points), onset=np.stack(onset), labels=labels, subjects=subjects,
        sample_ids=sample_ids, sequence_ids=sequence_ids, units="pixels", source="ck-lands",
        frames=np.stack(frames) if frames else None,
    )
