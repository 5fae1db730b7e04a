"""Image decoding shared by every reader of image files: one conversion from any Pillow mode to uint8 RGB.

Pixels are taken as they are, scaled by the true range of their format, never clipped:

========================  ======================================================================
Pillow mode               conversion
========================  ======================================================================
``L``, ``RGB``            as stored
``1``                     0 / 255
``I;16``, ``I;16B`` ...   16-bit gray: ``round(v / 257)`` (65535 -> 255, 257·k -> k)
``I``                     32-bit integer gray holding 16-bit values (how Pillow gives some 16-bit
                          files): as ``I;16``; values outside 0..65535 are refused
``F``                     32-bit float gray in [0, 1]: ``round(255 · v)``; NaN, inf or values
                          outside [0, 1] are refused (their scale is unknown)
``P``                     palette looked up (RGB)
``CMYK``, ``YCbCr``       Pillow's conversion to RGB (no colour management)
``LA``, ``RGBA``, ``PA``  alpha composited on white: ``c · a + 255 · (1 - a)``, ``a`` in [0, 1]
``P``/``L``/``RGB`` with  the transparent colour composited on white, like an alpha channel
``transparency``
========================  ======================================================================

16-bit RGB(A) PNGs are given by Pillow as 8-bit ``RGB``/``RGBA`` holding the high byte (``v >> 8``).
The EXIF orientation is applied first; multi-frame files give their first frame. Other modes (``LAB``,
``HSV``) are refused.
"""

from __future__ import annotations

import os

import numpy as np

from ..exceptions import FerGraphError

__all__ = ["ImageReadError", "IMAGE_SKIP_REASONS", "load_rgb"]

#: Skip reasons :func:`load_rgb` gives (``ImageReadError.reason``).
IMAGE_SKIP_REASONS: tuple[str, ...] = ("unreadable", "unsupported_mode")

_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_RGB_MODES = frozenset({"P", "CMYK", "YCbCr", "RGBX"})
_READABLE = ("1, L, LA, P, PA, RGB, RGBA, RGBX, CMYK, YCbCr, I;16 (any byte order), I with 16-bit values, "
             "F with values in [0, 1]")


class ImageReadError(FerGraphError, ValueError):
    """An image file that cannot be turned into pixels.

    Attributes:
        path: the file, as a string.
        reason: ``"unreadable"`` (Pillow cannot identify or decode it: not an image, truncated, too large)
            or ``"unsupported_mode"`` (decoded, but its pixels have no known scale or colour space).
        detail: the cause, e.g. ``"PIL mode 'LAB' ..."`` or the Pillow exception.
    """

    def __init__(self, path: str | os.PathLike, reason: str, detail: str) -> None:
        self.path, self.reason, self.detail = str(path), reason, detail
        super().__init__(f"{path}: {reason}: {detail}")

    def __reduce__(self):  # picklable across worker processes
        return type(self), (self.path, self.reason, self.detail)


def load_rgb(path: str | os.PathLike, *, keep_gray: bool = False) -> np.ndarray:
    """Decode an image file to uint8 RGB pixels, EXIF orientation applied (module docstring: conversions).

    Args:
        path: the image file.
        keep_gray: return single-channel files (``1``, ``L``, ``LA``, ``I;16``, ``I``, ``F``) as ``(H, W)``
            instead of repeating the gray level into 3 channels (for painting on gray images).

    Returns:
        ``(H, W, 3)`` uint8 RGB, 0..255 (``(H, W)`` for gray files with ``keep_gray``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: ``reason="unreadable"`` (Pillow cannot open or decode it) or
            ``"unsupported_mode"`` (a mode or pixel range without a known conversion); the message gives
            the path and the cause.
    """
    from PIL import Image, ImageOps

    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            im.load()  # decode now: a truncated file raises OSError here
            image = ImageOps.exif_transpose(im)
    except Exception as exc:  # OSError, SyntaxError, ValueError, DecompressionBombError ... from plugins
        raise ImageReadError(path, "unreadable", f"{type(exc).__name__}: {exc}"[:300]) from exc
    try:
        pixels = _to_uint8(image, path)
    except ImageReadError:
        raise
    except (ValueError, OSError) as exc:  # a conversion Pillow does not support for this file
        raise ImageReadError(path, "unsupported_mode", f"PIL mode {image.mode!r}: {type(exc).__name__}: "
                                                       f"{exc}"[:300]) from exc
    if pixels.ndim == 2 and not keep_gray:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return np.ascontiguousarray(pixels)


def _to_uint8(im, path: str | os.PathLike) -> np.ndarray:
    """``(H, W)`` uint8 for gray modes, ``(H, W, 3)`` uint8 for colour ones (module table).

    Raises:
        ImageReadError: ``"unsupported_mode"``.
    """
    mode = im.mode
    if mode in _ALPHA_MODES or ("transparency" in im.info and mode in ("P", "L", "RGB")):
        return _on_white(im)
    if mode in ("L", "RGB"):
        return np.asarray(im)
    if mode == "1":
        return np.asarray(im.convert("L"))
    if mode.startswith("I;16") or mode == "I":
        return _scale_16bit(np.asarray(im), mode, path)
    if mode == "F":
        return _scale_float(np.asarray(im), path)
    if mode in _RGB_MODES:
        return np.asarray(im.convert("RGB"))
    raise ImageReadError(path, "unsupported_mode", f"PIL mode {mode!r} has no conversion to RGB here; "
                                                   f"readable modes: {_READABLE}")


def _on_white(im) -> np.ndarray:
    """Colour (or gray) composited on white with the alpha channel or transparent colour."""
    gray = im.mode in ("L", "LA", "La")
    rgba = np.asarray(im.convert("LA" if gray else "RGBA"), dtype=np.float32)
    alpha = rgba[..., -1:] / 255.0
    out = np.rint(rgba[..., :-1] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return out[..., 0] if gray else out


def _scale_16bit(values: np.ndarray, mode: str, path: str | os.PathLike) -> np.ndarray:
    """16-bit gray (``I;16*``, or ``I`` holding 0..65535) to uint8 by ``round(v / 257)``."""
    v = values.astype(np.int64)
    lo, hi = (int(v.min()), int(v.max())) if v.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise ImageReadError(path, "unsupported_mode", f"PIL mode {mode!r} pixels span {lo}..{hi}; expected "
                                                       f"16-bit values in 0..65535")
    return ((v * 255 + 32767) // 65535).astype(np.uint8)


def _scale_float(values: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Float gray in [0, 1] to uint8 by ``round(255 · v)``."""
    v = values.astype(np.float64)
    if not np.isfinite(v).all():
        raise ImageReadError(path, "unsupported_mode", "PIL mode 'F' pixels hold NaN or inf")
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if lo < 0.0 or hi > 1.0:
        raise ImageReadError(path, "unsupported_mode", f"PIL mode 'F' pixels span [{lo:g}, {hi:g}]; expected "
                                                       f"values in [0, 1] (other float ranges have no known scale)")
    return np.rint(v * 255.0).astype(np.uint8)
