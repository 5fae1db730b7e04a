"""Temporal augmentation of landmark-sequence graphs (frame stacks ``(B, V, T, C)``) in training.

A sequence dataset stores, per graph, ``frames`` ``(V, T, D)``: the normalized landmarks of T frames from the
neutral onset to the apex, brought to one T at build time (:func:`fer_graph.landmarks.frames.resample_frames`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["time_warp", "temporal_augment"]


def time_warp(x: Tensor, times: Tensor) -> Tensor:
    """Linear interpolation of ``x`` ``(B, V, T, C)`` at fractional frame positions ``times`` ``(B, T)``
    (0 = first frame, T - 1 = last); returns ``(B, V, T, C)``."""
    t = x.shape[2]
    pos = times.clamp(0, t - 1)
    lo = pos.floor().long().clamp(max=t - 2)
    w = (pos - lo)[:, None, :, None]
    idx = lo[:, None, :, None].expand(-1, x.shape[1], -1, x.shape[3])
    return (1 - w) * x.gather(2, idx) + w * x.gather(2, idx + 1)


def temporal_augment(x: Tensor, *, speed: float = 0.25, jitter: float = 0.1, drop: float = 0.1,
                     generator: torch.Generator | None = None) -> Tensor:
    """Random temporal augmentation of frame stacks, per sequence.

    - start/end jitter: the sequence is re-read from a start in ``[0, jitter]`` to an end in
      ``[1 - jitter, 1]`` of its duration;
    - speed change: time runs as ``u ** g`` with ``log g`` uniform in ``[-log(1 + speed), log(1 + speed)]``
      (faster onset for g < 1, slower for g > 1);
    - frame dropout: each frame after the first is replaced, with probability ``drop``, by the frame before it
      (a dropped frame repeats the last one seen, as a video decoder does).

    Args:
        x: ``(B, V, T, C)`` features per node and frame.
        generator: source of the draws (None: torch's default generator).

    Returns:
        A new ``(B, V, T, C)`` tensor.
    """
    b, _, t, _ = x.shape
    u = torch.linspace(0, 1, t)
    start = torch.rand(b, 1, generator=generator) * jitter
    end = 1 - torch.rand(b, 1, generator=generator) * jitter
    log_g = (torch.rand(b, 1, generator=generator) * 2 - 1) * math.log1p(speed)
    times = (start + (end - start) * u[None, :] ** log_g.exp()) * (t - 1)
    if drop > 0:
        keep = torch.rand(b, t, generator=generator) >= drop
        keep[:, 0] = True
        last = torch.cummax(torch.where(keep, torch.arange(t).expand(b, t), torch.zeros(b, t, dtype=torch.long)), 1)
        times = times.gather(1, last.values)
    return time_warp(x, times)
