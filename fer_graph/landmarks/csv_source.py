"""Reader for landmark CSV files: fer-graph's generic schema and OpenFace 2.x / py-feat outputs.

Generic schema (one row per sample, header required)::

    sample_id,subject,label,x0,y0,x1,y1,...            (2-D)
    sample_id,subject,label,x0,y0,z0,x1,y1,z1,...      (3-D, MediaPipe-style)

optional columns ``split`` and ``sequence_id``. OpenFace 2.x ``FeatureExtraction`` CSVs (and py-feat
``Fex`` CSVs) name their 2-D landmarks ``x_0..x_67, y_0..y_67`` (pixels); they are read as they are,
with ``label``/``subject`` taken from columns when present, else from the keyword arguments (one file
per video is the usual OpenFace output). OpenFace rows with ``success == 0`` are recorded as skipped.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DatasetLayoutError, LandmarkFileError, UnknownLabelError
from ..labels import canonical_label
from ._text import decode_utf8, read_text
from ._types import LandmarkSet, SkipRecord

__all__ = ["read_csv_header", "read_landmark_csv"]

_GENERIC = re.compile(r"^([xyz])(\d+)$")
_OPENFACE = re.compile(r"^([xy])_(\d+)$")
_OPENFACE_POINTS = 68  # OpenFace 2.x and py-feat: the 68 iBUG points
_EXAMPLE_HEADER = "sample_id,subject,label,x0,y0,...,x67,y67"


def _coordinate_columns(columns: list[str], path: Path) -> tuple[list[str], int, str]:
    """Ordered coordinate columns (point-major: x0, y0[, z0], x1, ...), dims, and the schema name."""
    for pattern, schema in ((_GENERIC, "generic"), (_OPENFACE, "openface")):
        found: dict[tuple[int, str], str] = {}
        for c in columns:
            m = pattern.match(c)
            if m:
                found[(int(m.group(2)), m.group(1))] = c
        if not found:
            continue
        axes = sorted({a for _, a in found})
        if axes not in (["x", "y"], ["x", "y", "z"]):
            raise LandmarkFileError(f"{path}:1: landmark columns must be x/y or x/y/z; found axes {axes}")
        n = max(i for i, _ in found) + 1
        missing = [f"{a}{i}" for i in range(n) for a in axes if (i, a) not in found]
        if missing:
            raise LandmarkFileError(
                f"{path}:1: {schema} landmark columns incomplete: {n} points expected ({n * len(axes)} "
                f"columns), got {len(found)} columns, missing {missing[:6]}"
            )
        if schema == "openface" and n != _OPENFACE_POINTS:
            raise LandmarkFileError(
                f"{path}:1: OpenFace landmark columns hold {n} points (x_0..x_{n - 1}, y_0..y_{n - 1}); expected "
                f"{_OPENFACE_POINTS} (x_0..x_67, y_0..y_67)"
            )
        return [found[(i, a)] for i in range(n) for a in axes], len(axes), schema
    raise LandmarkFileError(
        f"{path}:1: no landmark columns; expected x0,y0[,z0],x1,... (generic) or x_0..x_67,y_0..y_67 (OpenFace)"
    )


def read_landmark_csv(
    path: str | os.PathLike,
    *,
    label: str | None = None,
    subject: str | None = None,
    label_map: Mapping[int, str] | None = None,
    units: str = "pixels",
    image_size: tuple[int, int] | None = None,
    require_label: bool = True,
) -> LandmarkSet:
    """Read a landmark CSV (generic schema or OpenFace 2.x ``FeatureExtraction`` output).

    Args:
        path: the CSV file.
        label: label of every row when the file has no ``label`` column (e.g. one OpenFace file per clip).
        subject: subject of every row when the file has no ``subject`` column.
        label_map: maps integer label codes to label names (e.g. :data:`fer_graph.labels.FER2013_CODES`);
            without it labels must be names (``"happy"``, ``"anger"``...).
        units: ``"pixels"`` (OpenFace, dlib, iBUG) or ``"image-normalized"`` (MediaPipe x/W, y/H).
        image_size: ``(width, height)`` in pixels, required with ``units="image-normalized"``.
        require_label: with ``False`` (prediction), rows without a label are kept with label ``""``.

    Returns:
        :class:`LandmarkSet` with ``points`` ``(N, V, 2|3)`` float32, ``source="csv"``. Rows with an
        empty label, and OpenFace rows with ``success == 0``, are in ``skipped``.

    Raises:
        DatasetLayoutError: the file is missing.
        LandmarkFileError: an empty file or no data rows, not UTF-8, a row with more or fewer fields than
            the header, no or incomplete landmark columns (OpenFace: not 68 points), a non-numeric, NaN or
            infinite coordinate, duplicate ``sample_id`` or column; messages give ``path:line`` (the header
            is line 1; blank lines are skipped but counted).
        UnknownLabelError: a label that is not a known expression name or code.
    """
    path = Path(path)
    df, lines = _read_frame(path)
    cols, dims, schema = _coordinate_columns(list(df.columns), path)
    points = _points(df, cols, dims, path, lines)
    keep, skipped = _openface_failures(df, path, lines)
    labels = _labels(_column_or(df, "label", label), keep, skipped, label_map=label_map,
                     require_label=require_label, path=path, lines=lines)
    ids = _sample_ids(df, path, lines)
    subjects = _column_or(df, "subject", subject)
    sequences = _column_or(df, "sequence_id", path.stem if schema == "openface" else None)
    splits = _column_or(df, "split", None) if "split" in df.columns else None
    idx = np.flatnonzero(keep)
    return LandmarkSet(
        points=points[idx], labels=[labels[i] for i in idx], subjects=[subjects[i] for i in idx],
        sample_ids=[ids[i] for i in idx], sequence_ids=[sequences[i] for i in idx], units=units,
        source="csv", splits=None if splits is None else [splits[i] or "all" for i in idx],
        image_sizes=_image_sizes(units, image_size, len(idx)), skipped=skipped,
    )


def read_csv_header(path: str | os.PathLike) -> list[str]:
    """Column names on the first line of a CSV file, stripped (UTF-8, a byte-order mark removed).

    Raises:
        DatasetLayoutError: the file is missing.
        LandmarkFileError: an empty file, a blank first line, not UTF-8, or a name given twice; the
            message starts with ``path:1:``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: landmark CSV not found")
    with path.open("rb") as fh:
        first = fh.readline()
    if not first:
        raise LandmarkFileError(f"{path}:1: empty file (0 bytes); expected a header line such as "
                                f"{_EXAMPLE_HEADER}, then one row per sample")
    text = decode_utf8(first, path).rstrip("\r\n")
    if not text.strip():
        raise LandmarkFileError(f"{path}:1: blank first line; expected the header line, e.g. {_EXAMPLE_HEADER}")
    names = [c.strip() for c in next(csv.reader([text], skipinitialspace=True))]
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name and name in seen:
            raise LandmarkFileError(f"{path}:1: column {name!r} appears twice (fields {seen[name]} and {i}); "
                                    "expected unique column names")
        seen[name] = i
    return names


def _read_frame(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """All cells as str columns with stripped names (``""`` for empty cells), and each row's line number.

    Blank lines are dropped; line numbers are 1-based file lines (the header is line 1).

    Raises:
        DatasetLayoutError: the file is missing.
        LandmarkFileError: see :func:`read_csv_header`; a row with more or fewer fields than the header,
            no data rows, bytes that are not UTF-8 (``path:line:`` each).
    """
    header = read_csv_header(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)  # a long first row would be cut silently
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, index_col=False,
                             skip_blank_lines=False, encoding="utf-8-sig")
        except pd.errors.ParserError as exc:
            found = _row_length_error(path, len(header))
            line = re.search(r"line (\d+)", str(exc))
            raise (found[1] if found else LandmarkFileError(
                f"{path}:{line.group(1) if line else '?'}: not a readable CSV row: {str(exc).strip()}")) from exc
        except UnicodeDecodeError:
            read_text(path)  # raises LandmarkFileError with the line
            raise
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        found = _row_length_error(path, len(header))
        if found:
            raise found[1]
    df.columns = [str(c).strip() for c in df.columns]
    lines = np.arange(len(df)) + 2
    maybe_blank = ((df.iloc[:, 0] == "") & (df.iloc[:, -1] == "")).to_numpy()
    if maybe_blank.any():
        keep = ~(maybe_blank & (df == "").all(axis=1).to_numpy())
        df, lines = df[keep].reset_index(drop=True), lines[keep]
    if df.empty:
        raise LandmarkFileError(f"{path}:2: no data rows after the header (line 1); expected one row per sample")
    return df, lines


def _row_length_error(path: Path, expected: int) -> tuple[int, LandmarkFileError] | None:
    """``(line, error)`` for the first data row whose field count differs from the header's, else ``None``.

    Extra fields that are all empty (a trailing delimiter) are tolerated. Reads the whole file: call it
    only once a problem is known.
    """
    reader = csv.reader(io.StringIO(read_text(path), newline=""), skipinitialspace=True)
    try:
        next(reader, None)
        for row in reader:
            if not row:
                continue
            extra = [c for c in row[expected:] if c.strip()]
            if len(row) < expected or extra:
                line = reader.line_num
                more = f"; the extra values start with {extra[:3]}" if extra else ""
                return line, LandmarkFileError(
                    f"{path}:{line}: {len(row)} fields, expected {expected} as in the header (line 1){more}")
    except csv.Error as exc:  # a NUL byte, an unclosed quote
        return reader.line_num, LandmarkFileError(f"{path}:{reader.line_num}: not a readable CSV row: {exc}")
    return None


def _points(df: pd.DataFrame, cols: list[str], dims: int, path: Path, lines: np.ndarray) -> np.ndarray:
    """``(N, V, dims)`` float32 landmarks from the point-major coordinate columns ``cols``.

    Raises:
        LandmarkFileError: a non-numeric, NaN or infinite cell (``path:line`` and column named).
    """
    coords = df[cols].apply(lambda s: pd.to_numeric(s.str.strip(), errors="coerce")).to_numpy(np.float64)
    bad = ~np.isfinite(coords)
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        short = _row_length_error(path, len(df.columns)) if df[cols[c]].iloc[r] == "" else None
        if short and short[0] <= lines[r]:
            raise short[1]  # an empty cell made by a row with too few fields
        raise LandmarkFileError(
            f"{path}:{lines[r]}: column {cols[c]!r} is {df[cols[c]].iloc[r]!r}, not a finite number"
        )
    return coords.reshape(len(df), -1, dims).astype(np.float32)


def _openface_failures(df: pd.DataFrame, path: Path, lines: np.ndarray) -> tuple[np.ndarray, list[SkipRecord]]:
    """``(N,)`` bool mask of rows to keep and a ``"no_face"`` record per OpenFace row with ``success == 0``."""
    keep = np.ones(len(df), dtype=bool)
    skipped: list[SkipRecord] = []
    if "success" in df.columns:
        failed = df["success"].str.strip().isin(["0", "0.0", "False", "false"]).to_numpy()
        for r in np.flatnonzero(failed):
            skipped.append(SkipRecord(f"{path}:{lines[r]}", "no_face", "OpenFace success == 0"))
        keep &= ~failed
    return keep, skipped


def _column_or(df: pd.DataFrame, name: str, default: str | None) -> list[str | None]:
    """Stripped values of column ``name`` (``default`` for empty cells), or ``default`` for every row."""
    if name in df.columns:
        return [v.strip() or default for v in df[name]]
    return [default] * len(df)


def _labels(raw: list[str | None], keep: np.ndarray, skipped: list[SkipRecord], *,
            label_map: Mapping[int, str] | None, require_label: bool, path: Path, lines: np.ndarray) -> list[str]:
    """Canonical label per row (``""`` for rows not kept or unlabelled).

    With ``require_label``, an unlabelled kept row gets ``keep[r] = False`` and an ``"unlabelled"``
    record appended to ``skipped`` (both updated in place).

    Raises:
        UnknownLabelError: see :func:`_parse_label`.
    """
    labels: list[str] = []
    for r, value in enumerate(raw):
        if not keep[r] or (value is None and not require_label):
            labels.append("")
        elif value is None:
            skipped.append(SkipRecord(f"{path}:{lines[r]}", "unlabelled", "empty label"))
            keep[r] = False
            labels.append("")
        else:
            labels.append(_parse_label(value, label_map, f"{path}:{lines[r]}"))
    return labels


def _sample_ids(df: pd.DataFrame, path: Path, lines: np.ndarray) -> list[str]:
    """``sample_id`` column, else ``<file stem>@<frame>`` (OpenFace; ``<file stem>@<frame>/face<face_id>`` when
    the file holds several faces, OpenFace's multi-face output), else ``<file stem>@<row index>``.

    Raises:
        LandmarkFileError: a duplicate id (both lines named).
    """
    if "sample_id" in df.columns:
        ids = [v.strip() for v in df["sample_id"]]
    elif "frame" in df.columns:
        ids = [f"{path.stem}@{v.strip()}" for v in df["frame"]]
        if "face_id" in df.columns and df["face_id"].str.strip().nunique() > 1:
            ids = [f"{sid}/face{v.strip()}" for sid, v in zip(ids, df["face_id"])]
    else:
        ids = [f"{path.stem}@{r}" for r in range(len(df))]
    seen: dict[str, int] = {}
    for r, sid in enumerate(ids):
        if sid in seen:
            raise LandmarkFileError(f"{path}:{lines[r]}: duplicate sample_id {sid!r} (first on line {seen[sid]})")
        seen[sid] = int(lines[r])
    return ids


def _image_sizes(units: str, image_size: tuple[int, int] | None, n: int) -> np.ndarray | None:
    """``(n, 2)`` int32 ``(width, height)`` rows for image-normalized landmarks, else ``None``.

    Raises:
        ValueError: ``units="image-normalized"`` without ``image_size``.
    """
    if units != "image-normalized":
        return None
    if image_size is None:
        raise ValueError("units='image-normalized' needs image_size=(width, height)")
    return np.tile(np.asarray(image_size, dtype=np.int32), (n, 1))


def _parse_label(value: str, label_map: Mapping[int, str] | None, where: str) -> str:
    if label_map is not None and value.lstrip("-").isdigit():
        try:
            return canonical_label(label_map[int(value)], where=where)
        except KeyError:
            raise UnknownLabelError(
                f"{where}: unknown label code {value!r}; expected one of {dict(label_map)}"
            ) from None
    if value.lstrip("-").isdigit():
        raise UnknownLabelError(f"{where}: label {value!r} is a number; pass label_map to decode codes")
    return canonical_label(value, where=where)
