"""Text decoding shared by the CSV readers: UTF-8 with or without a byte-order mark, errors by line."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from ..exceptions import LandmarkFileError

__all__ = ["decode_utf8", "read_text", "strip_bom"]


def strip_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte-order mark (``EF BB BF``, as Excel and Notepad write)."""
    return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data


def read_text(path: str | os.PathLike) -> str:
    """The whole file as text: UTF-8, a leading byte-order mark removed.

    Raises:
        FileNotFoundError: no such file.
        LandmarkFileError: see :func:`decode_utf8`.
    """
    return decode_utf8(Path(path).read_bytes(), path)


def decode_utf8(raw: bytes, path: str | os.PathLike) -> str:
    """``raw`` (a file's bytes from its start) as text: UTF-8, a leading byte-order mark removed.

    Raises:
        LandmarkFileError: UTF-16/32 text, or bytes that are not UTF-8; ``path:line:`` gives where.
    """
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LandmarkFileError(f"{path}:1: UTF-16/UTF-32 text (byte-order mark {raw[:2].hex(' ')}); "
                                "expected UTF-8: save the file as UTF-8")
    data = strip_bom(raw)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LandmarkFileError(f"{path}:{line}: byte 0x{data[exc.start]:02x} at column {column} is not UTF-8 "
                                "text; expected a UTF-8 file (re-save it as UTF-8)") from None
