"""Occlusion over time: corruptions of landmark sequences (frame stacks) for robustness sweeps of video models.

A condition turns a sequence's frames ``(V, T, D)`` (normalized, IOD units) into corrupted frames and a
visibility mask ``(V, T)`` (True = seen). Draws come from an explicit generator, one per sequence, so every
model of a sweep sees the same corrupted sequences:

- ``region_frames``: a region preset's landmarks hidden in a random ``fraction`` of the frames (a hand
  passing over the mouth, a turn hiding one eye);
- ``frame_drop``: a random ``fraction`` of the frames after the onset lost, each replaced by the last frame
  kept (what a player shows for frames a decoder drops);
- ``temporal_noise``: Gaussian noise of ``sigma`` IOD on every landmark of every frame (jittering tracking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .regions import region_mask

__all__ = ["TemporalCondition", "TEMPORAL_KINDS", "corrupt_sequence", "temporal_conditions"]

TEMPORAL_KINDS: tuple[str, ...] = ("clean", "region_frames", "frame_drop", "temporal_noise")


@dataclass(frozen=True)
class TemporalCondition:
    """One sweep condition: ``kind`` (:data:`TEMPORAL_KINDS`), the region of ``region_frames``, ``level``
    (the fraction of frames for ``region_frames`` / ``frame_drop``, sigma in IOD for ``temporal_noise``)."""

    kind: str
    level: float = 0.0
    region: str = ""

    @property
    def name(self) -> str:
        if self.kind == "clean":
            return "clean"
        return f"{self.kind}:{self.region + ':' if self.region else ''}{self.level:g}"


def temporal_conditions(regions=("eyes", "mouth"), fractions=(0.25, 0.5, 1.0), drops=(0.25, 0.5),
                        sigmas=(0.05, 0.1)) -> list[TemporalCondition]:
    """The clean condition, then every region x fraction, frame-drop fraction and noise sigma."""
    return ([TemporalCondition("clean")] + [TemporalCondition("region_frames", f, r) for r in regions for f in fractions]
            + [TemporalCondition("frame_drop", f) for f in drops] + [TemporalCondition("temporal_noise", s) for s in sigmas])


def _pick(t: int, fraction: float, rng: np.random.Generator, first: int = 0) -> np.ndarray:
    """``round(fraction * (t - first))`` distinct frame indices drawn from ``first .. t - 1``."""
    k = int(round(fraction * (t - first)))
    return np.sort(rng.choice(np.arange(first, t), size=k, replace=False))


def corrupt_sequence(frames: np.ndarray, cond: TemporalCondition, topology, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, visible)`` of one sequence under ``cond``.

    Args:
        frames: ``(V, T, D)`` float32 normalized landmarks, onset first.
        topology: the landmark topology (region presets of ``region_frames``).
        rng: the sequence's generator.

    Returns:
        ``(V, T, D)`` float32 corrupted frames (a copy) and ``(V, T)`` bool visibility.

    Raises:
        ValueError: an unknown ``cond.kind``; UnknownRegionError: an unknown region.
    """
    out = np.array(frames, dtype=np.float32, copy=True)
    v, t, _ = out.shape
    visible = np.ones((v, t), bool)
    if cond.kind == "clean":
        return out, visible
    if cond.kind == "region_frames":
        hidden = _pick(t, cond.level, rng)
        visible[np.ix_(region_mask(cond.region, topology), hidden)] = False
    elif cond.kind == "frame_drop":
        for k in _pick(t, cond.level, rng, first=1):  # ascending: a run of drops repeats the last kept frame
            out[:, k] = out[:, k - 1]
    elif cond.kind == "temporal_noise":
        out += rng.normal(0.0, cond.level, out.shape).astype(np.float32)
    else:
        raise ValueError(f"temporal condition {cond.kind!r}; expected one of {list(TEMPORAL_KINDS)}")
    return out, visible
