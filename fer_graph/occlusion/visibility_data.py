"""Training and evaluation samples for the visibility estimator: occluded faces, re-detected, with free labels.

For each face image a random occluder (:func:`~fer_graph.occlusion.occluders.random_occluder`) is painted,
the Face Landmarker runs again on the occluded image (it moves the hidden points; it never marks them), and
the sample keeps what a model sees at prediction time — the patches around the *re-detected* landmarks
(:func:`~fer_graph.occlusion.patches.patch_features`) — with what it should say: the landmarks whose
*clean* position the occluder covers. Clean faces (family ``"clean"``, no occluder, no re-detection needed)
teach that most faces have nothing hidden. Faces the detector loses under the occluder are skipped with a
reason, as the image-occlusion sweep counts them.

Every sample's occluder draws from its own generator, seeded with ``(seed, index)`` (its texture source
from ``(seed, index, 1)``), and samples are written in
chunks of :data:`CHUNK` atomically: an interrupted synthesis resumes, and its samples do not depend on
where it stopped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .occluders import FAMILIES, random_occluder
from .patches import GRID, RADII, num_patch_features, patch_features

__all__ = ["CLEAN", "CHUNK", "FaceImage", "VisibilitySamples", "synthesize_samples"]

#: Family name of samples without an occluder.
CLEAN = "clean"
#: Samples per cache file.
CHUNK = 250


@dataclass(frozen=True)
class FaceImage:
    """One source face: its id, a loader of its uint8 image and its clean ``(V, 2)`` landmarks in pixels."""

    sample_id: str
    load: Callable[[], np.ndarray]
    landmarks_px: np.ndarray


@dataclass
class VisibilitySamples:
    """Occluded faces ready for the visibility estimator.

    Attributes:
        features: ``(N, V, P)`` float16 patch features at the re-detected landmarks.
        hidden: ``(N, V)`` bool, True where the occluder covers the clean landmark.
        families: ``(N,)`` str occluder family, or :data:`CLEAN`.
        sample_ids: ``N`` ids of the source faces.
        skipped: ``(sample_id, family, reason)`` of faces without a sample (the detector lost the face).
    """

    features: np.ndarray
    hidden: np.ndarray
    families: np.ndarray
    sample_ids: list[str]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.hidden)

    def take(self, idx: np.ndarray) -> VisibilitySamples:
        """The samples ``idx`` (same order); ``skipped`` is kept whole."""
        return VisibilitySamples(self.features[idx], self.hidden[idx], self.families[idx],
                                 [self.sample_ids[i] for i in idx], list(self.skipped))

    def save(self, path: str | os.PathLike) -> None:
        """Write one ``.npz`` atomically."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, features=self.features, hidden=self.hidden, families=self.families.astype(str),
                     sample_ids=np.array(self.sample_ids, dtype=str),
                     skipped=np.array(self.skipped, dtype=str).reshape(-1, 3))

    @classmethod
    def load(cls, path: str | os.PathLike) -> VisibilitySamples:
        """Read :meth:`save`'s file."""
        with np.load(path) as z:
            return cls(z["features"], z["hidden"], z["families"], z["sample_ids"].tolist(),
                       [tuple(r) for r in z["skipped"].tolist()])

    @classmethod
    def concat(cls, parts: Sequence[VisibilitySamples], num_nodes: int) -> VisibilitySamples:
        """Samples of ``parts`` one after the other (``num_nodes`` shapes an empty result)."""
        p = num_patch_features()
        if not parts:
            return cls(np.zeros((0, num_nodes, p), np.float16), np.zeros((0, num_nodes), bool), np.array([], str), [])
        return cls(np.concatenate([q.features for q in parts]), np.concatenate([q.hidden for q in parts]),
                   np.concatenate([q.families for q in parts]), [s for q in parts for s in q.sample_ids],
                   [s for q in parts for s in q.skipped])


def _one(face: FaceImage, family: str, rng: np.random.Generator, detector, texture: Callable[[], np.ndarray],
         num_nodes: int) -> tuple[np.ndarray, np.ndarray] | str:
    """``(features, hidden)`` of one face under one occluder, or the reason it was lost."""
    image = face.load()
    clean = np.asarray(face.landmarks_px, np.float64)[:num_nodes, :2]
    if family == CLEAN:
        return patch_features(image, clean), np.zeros(num_nodes, bool)
    occ = random_occluder(image, clean, family, rng, texture=texture() if family == "texture" else None)
    found = detector.detect(occ.image)
    if isinstance(found, str):
        return found
    h, w = occ.image.shape[:2]
    px = found.landmarks[:num_nodes, :2].astype(np.float64) * (w, h)
    return patch_features(occ.image, px), occ.hidden


def _chunk(faces: Sequence[FaceImage], plan: Sequence[tuple[int, str]], seed: int, detector,
           num_nodes: int) -> VisibilitySamples:
    feats, hidden, fams, ids, skipped = [], [], [], [], []
    for i, family in plan:
        rng = np.random.default_rng([seed, i])  # the occluder's stream
        other = faces[int(np.random.default_rng([seed, i, 1]).integers(len(faces)))]  # texture source: another photo
        got = _one(faces[i], family, rng, detector, other.load, num_nodes)
        if isinstance(got, str):
            skipped.append((faces[i].sample_id, family, got))
            continue
        feats.append(got[0].astype(np.float16))
        hidden.append(got[1])
        fams.append(family)
        ids.append(faces[i].sample_id)
    p = num_patch_features(RADII, GRID)
    return VisibilitySamples(np.stack(feats) if feats else np.zeros((0, num_nodes, p), np.float16),
                             np.stack(hidden) if hidden else np.zeros((0, num_nodes), bool),
                             np.array(fams, dtype=str), ids, skipped)


def synthesize_samples(faces: Sequence[FaceImage], families: Sequence[str], *, detector, cache_dir: str | os.PathLike,
                       seed: int = 0, num_nodes: int = 468,
                       on_progress: Callable[[int, int], None] | None = None) -> VisibilitySamples:
    """One sample per face: face ``i`` gets occluder family ``families[i]`` (:data:`FAMILIES` or :data:`CLEAN`).

    Args:
        faces: the source faces (images and clean landmarks).
        families: one family per face.
        detector: a :class:`~fer_graph.landmarks.mediapipe_source.FaceLandmarkDetector` (``detect`` method),
            with the options the faces' landmarks were found with.
        cache_dir: folder of the chunk files (``chunk-<k>.npz``); existing chunks are reused, so it must
            belong to this very face list, family plan and seed (the caller keys it).
        seed: seeds every sample's generator with ``(seed, index)``.
        num_nodes: landmarks per face kept (468: the Face Mesh without iris).
        on_progress: called as ``on_progress(done, total)`` after each chunk.

    Returns:
        the samples in face order, lost faces left out and listed in ``skipped``.

    Raises:
        ValueError: ``families`` and ``faces`` differ in length, or an unknown family.
    """
    if len(families) != len(faces):
        raise ValueError(f"synthesize_samples: {len(faces)} faces but {len(families)} families")
    bad = sorted(set(families) - set(FAMILIES) - {CLEAN})
    if bad:
        raise ValueError(f"synthesize_samples: unknown families {bad}; expected {[*FAMILIES, CLEAN]}")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    parts = []
    for k, start in enumerate(range(0, len(faces), CHUNK)):
        path = cache / f"chunk-{k:05d}.npz"
        if path.is_file():
            parts.append(VisibilitySamples.load(path))
        else:
            plan = [(i, families[i]) for i in range(start, min(start + CHUNK, len(faces)))]
            parts.append(_chunk(faces, plan, seed, detector, num_nodes))
            parts[-1].save(path)
        if on_progress is not None:
            on_progress(min(start + CHUNK, len(faces)), len(faces))
    return VisibilitySamples.concat(parts, num_nodes)
