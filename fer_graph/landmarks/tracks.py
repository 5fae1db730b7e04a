"""Face identities across video frames: each face keeps one id while it stays in view.

Boxes of a frame are matched to the last boxes of the live tracks by intersection over union (IoU), with
the assignment that maximizes total IoU (Hungarian method, :func:`scipy.optimize.linear_sum_assignment`);
a pair below ``min_iou`` is no match. Unmatched faces start new tracks, numbered upwards; a track not seen
for more than ``max_gap`` frames ends, and its id is not reused. This is the IoU tracker of Bochinski,
Eiselein & Sikora, "High-Speed Tracking-by-Detection Without Using Image Information" (AVSS 2017), with an
optimal instead of a greedy assignment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FaceTracks", "box_iou"]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` intersection over union of boxes ``a`` ``(N, 4)`` and ``b`` ``(M, 4)``, ``(x, y, w, h)`` in
    any one unit (pixels)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    union = a[:, 2:].prod(-1)[:, None] + b[:, 2:].prod(-1)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


class FaceTracks:
    """Assigns track ids to the faces of consecutive frames (see the module docstring).

    Args:
        min_iou: smallest IoU with a track's last box that continues the track.
        max_gap: frames a track may go unseen before it ends (a blink of the detector, a turned head).

    Raises:
        ValueError: ``min_iou`` outside ``(0, 1]`` or a negative ``max_gap``.
    """

    def __init__(self, *, min_iou: float = 0.3, max_gap: int = 15) -> None:
        if not 0.0 < min_iou <= 1.0 or max_gap < 0:
            raise ValueError(f"FaceTracks: min_iou={min_iou} must be in (0, 1], max_gap={max_gap} >= 0")
        self.min_iou, self.max_gap = min_iou, max_gap
        self._boxes: dict[int, np.ndarray] = {}  # live track id -> last box
        self._seen: dict[int, int] = {}  # live track id -> frame index last seen
        self._next = 0

    def assign(self, boxes: Sequence[Sequence[float]], frame: int) -> list[int]:
        """Track ids of the faces ``boxes`` (``(x, y, w, h)`` each) of frame number ``frame`` (rising)."""
        from scipy.optimize import linear_sum_assignment

        for tid in [t for t, f in self._seen.items() if frame - f - 1 > self.max_gap]:
            del self._boxes[tid], self._seen[tid]
        ids = [-1] * len(boxes)
        live = list(self._boxes)
        if boxes and live:
            iou = box_iou(np.asarray(boxes), np.stack([self._boxes[t] for t in live]))
            for i, j in zip(*linear_sum_assignment(-iou)):
                if iou[i, j] >= self.min_iou:
                    ids[i] = live[j]
        for i, box in enumerate(boxes):
            if ids[i] < 0:
                ids[i], self._next = self._next, self._next + 1
            self._boxes[ids[i]], self._seen[ids[i]] = np.asarray(box, np.float64), frame
        return ids
