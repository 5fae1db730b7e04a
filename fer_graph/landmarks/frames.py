"""Landmark sequences brought to a fixed number of frames.

Every sequence of a sequence dataset gets the same T frames when the dataset is built (resampled, not padded:
the CK+ sequences run from onset to apex whatever their length, 10 to 60 frames, so their time axis is
"expression progress" and a shared T needs no mask):

- ``uniform``: T frames at evenly spaced times from the first to the last frame, linearly interpolated;
- ``ends``: the first ``T // 2`` and the last ``T - T // 2`` frames as recorded (the protocol of OpenDR's
  PST-BLN on CK+: the first and last 3 frames for T = 6); sequences shorter than T fall back to ``uniform``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FRAME_SAMPLINGS", "check_frame_options", "resample_frames"]

FRAME_SAMPLINGS: tuple[str, ...] = ("uniform", "ends")


def check_frame_options(t: int, sampling: str) -> None:
    """Check the frames per sequence and the sampling of a sequence build.

    Raises:
        ValueError: ``t`` < 2 (a sequence needs an onset and an apex) or ``sampling`` not in
            :data:`FRAME_SAMPLINGS`; the message names the option and its value.
    """
    if t < 2:
        raise ValueError(f"sequence_frames={t}; expected >= 2 frames per sequence (onset and apex)")
    if sampling not in FRAME_SAMPLINGS:
        raise ValueError(f"frame_sampling={sampling!r}; expected one of {list(FRAME_SAMPLINGS)}")


def resample_frames(frames: np.ndarray, t: int, sampling: str = "uniform") -> np.ndarray:
    """``t`` frames of one sequence.

    Args:
        frames: ``(T0, V, D)`` landmarks of every recorded frame, onset first (any units).
        t: frames wanted (>= 2).
        sampling: ``"uniform"`` or ``"ends"`` (module docstring).

    Returns:
        ``(t, V, D)`` float32; the first and last frames are always the recorded onset and apex.

    Raises:
        ValueError: ``t`` < 2, an unknown ``sampling``, or fewer than 2 recorded frames.
    """
    frames = np.asarray(frames, np.float32)
    check_frame_options(t, sampling)
    n = len(frames)
    if n < 2:
        raise ValueError(f"a sequence of {n} frame(s); need at least an onset and an apex")
    if sampling == "ends" and n >= t:
        return np.concatenate([frames[: t // 2], frames[n - (t - t // 2):]])
    pos = np.linspace(0.0, n - 1, t)
    lo = np.floor(pos).astype(int).clip(0, n - 2)
    w = (pos - lo)[:, None, None].astype(np.float32)
    return (1 - w) * frames[lo] + w * frames[lo + 1]
