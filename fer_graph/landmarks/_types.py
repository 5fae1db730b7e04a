"""The container every landmark source returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LandmarkSet", "SkipRecord"]


@dataclass(frozen=True)
class SkipRecord:
    """An input that produced no sample, and why.

    Attributes:
        path: the file (image or CSV) that was skipped, as a string.
        reason: a short machine-readable reason: ``"unreadable"``, ``"unsupported_mode"``, ``"broken_link"``,
            ``"link_loop"``, ``"no_face"``, ``"several_faces"``, ``"detect_error"``, ``"unlabelled"``,
            ``"too_few_frames"`` (a video clip with a face in fewer than 2 frames) ...
        detail: free text (exception message, line number).
    """

    path: str
    reason: str
    detail: str = ""


@dataclass
class LandmarkSet:
    """Landmarks of ``N`` samples with their labels and metadata, as read from one source.

    Attributes:
        points: ``(N, V, D)`` float32 landmarks; ``V`` is 68 (iBUG) or 468/478 (MediaPipe Face Mesh),
            ``D`` is 2 (x, y) or 3 (x, y, z). Units given by :attr:`units`; y points down (image frame).
        labels: ``N`` canonical label names (:data:`fer_graph.labels.CANONICAL_LABELS`); ``""`` for
            unlabelled samples read for prediction.
        subjects: ``N`` subject ids (``"S010"``) or ``None`` where the source has none (FER-2013).
        sample_ids: ``N`` unique ids (``"S010_001@17"``, a relative image path, a CSV ``sample_id``).
        sequence_ids: ``N`` ids of the video sequence a sample comes from (``"S010_001"``), or ``None``;
            frames of one sequence must stay on one side of a split.
        units: ``"pixels"`` or ``"image-normalized"`` (x / width, y / height, z on x's scale, as the
            Face Landmarker reports them; see :attr:`image_sizes`).
        source: ``"ck-lands"``, ``"mediapipe"`` (images), ``"mediapipe-video"`` (video clips) or ``"csv"``.
        onset: optional ``(N, V, D)`` float32 neutral onset frame of each sample's sequence (same units).
        splits: optional ``N`` split names (``"train"``, ``"publictest"``).
        blendshapes: optional ``(N, 52)`` float32 MediaPipe blendshape scores in [0, 1]
            (ARKit order, as the Face Landmarker's ``face_blendshapes`` output).
        transforms: optional ``(N, 4, 4)`` float32 facial transformation matrices (canonical face → camera).
        image_sizes: optional ``(N, 2)`` int32 image (width, height) in pixels.
        tiers: optional ``(N,)`` int8, index of the detection-confidence tier that found the face.
        frames: optional ``(N, T, V, D)`` float32 landmarks of T frames of each sample's sequence, onset to
            apex (same units; :func:`fer_graph.landmarks.frames.resample_frames`).
        skipped: inputs that yielded no sample, with reasons.
    """

    points: np.ndarray
    labels: list[str]
    subjects: list[str | None]
    sample_ids: list[str]
    sequence_ids: list[str | None]
    units: str
    source: str
    onset: np.ndarray | None = None
    splits: list[str] | None = None
    blendshapes: np.ndarray | None = None
    transforms: np.ndarray | None = None
    image_sizes: np.ndarray | None = None
    tiers: np.ndarray | None = None
    frames: np.ndarray | None = None
    skipped: list[SkipRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.points)
        if self.points.ndim != 3:
            raise ValueError(f"points must be (N, V, D); got shape {tuple(self.points.shape)}")
        for name in ("labels", "subjects", "sample_ids", "sequence_ids", "splits", "onset", "blendshapes",
                     "transforms", "image_sizes", "tiers", "frames"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries, expected {n} (one per sample)")
        if self.frames is not None and (self.frames.ndim != 4 or self.frames.shape[2:] != self.points.shape[1:]):
            raise ValueError(f"frames must be (N, T, V, D) with points' (V, D); got {tuple(self.frames.shape)}")
        if self.units not in ("pixels", "image-normalized"):
            raise ValueError(f"units={self.units!r}; expected 'pixels' or 'image-normalized'")

    def __len__(self) -> int:
        return len(self.points)

    @property
    def num_points(self) -> int:
        return int(self.points.shape[1])

    def pixel_points(self, which: str = "points") -> np.ndarray:
        """``points`` (or ``onset``, ``frames``) in pixel-proportional units: x·W, y·H, z·W for image-normalized data.

        Normalization by inter-ocular distance needs isotropic units; the Face Landmarker's x and y are
        divided by different sides on non-square images.
        """
        pts = getattr(self, which)
        if self.units == "pixels":
            return pts
        if self.image_sizes is None:
            raise ValueError("image-normalized landmarks need image_sizes to convert to pixels")
        shape = (-1,) + (1,) * (pts.ndim - 2)  # (N, 1) for points, (N, 1, 1) for frames
        w = self.image_sizes[:, 0].astype(np.float32).reshape(shape)
        h = self.image_sizes[:, 1].astype(np.float32).reshape(shape)
        out = pts.astype(np.float32, copy=True)
        out[..., 0] *= w
        out[..., 1] *= h
        if out.shape[-1] > 2:
            out[..., 2] *= w
        return out
