"""Read MediaPipe's canonical face mesh from a Face Landmarker ``.task`` bundle (no protobuf classes needed).

The bundle's ``geometry_pipeline_metadata_landmarks.binarypb`` is a ``GeometryPipelineMetadata`` message
(mediapipe/tasks/cc/vision/face_geometry/proto/geometry_pipeline_metadata.proto) whose field 1,
``canonical_mesh`` (``Mesh3d``), holds ``vertex_buffer`` (field 3): 468 vertices x (x, y, z, u, v),
in centimetres, symmetric about x = 0. A 30-line protobuf wire-format reader is enough to get it.
"""

from __future__ import annotations

import os
import struct
import zipfile

import numpy as np

__all__ = ["read_canonical_face", "mirror_permutation"]


def _varint(b: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return result, i


def _fields(b: bytes):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(b, i)
        elif wire == 2:
            n, i = _varint(b, i)
            value, i = b[i:i + n], i + n
        elif wire == 5:
            value, i = b[i:i + 4], i + 4
        elif wire == 1:
            value, i = b[i:i + 8], i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def read_canonical_face(task_path: str | os.PathLike) -> np.ndarray:
    """The canonical face mesh of a Face Landmarker bundle.

    Returns:
        ``(468, 3)`` float64 vertex positions (x right, y up, z towards the camera; centimetres).

    Raises:
        ValueError: the bundle has no canonical mesh of 468 vertices.
    """
    with zipfile.ZipFile(task_path) as z:
        blob = z.read("geometry_pipeline_metadata_landmarks.binarypb")
    mesh = next(v for n, w, v in _fields(blob) if n == 1 and w == 2)
    floats: list[float] = []
    for n, w, v in _fields(mesh):
        if n == 3 and w == 5:
            floats.append(struct.unpack("<f", v)[0])
        elif n == 3 and w == 2:  # packed encoding
            floats.extend(np.frombuffer(v, dtype="<f4").tolist())
    verts = np.asarray(floats, dtype=np.float64)
    if verts.size != 468 * 5:
        raise ValueError(f"{task_path}: canonical mesh has {verts.size} floats, expected 468 x 5")
    return verts.reshape(468, 5)[:, :3]


def mirror_permutation(points: np.ndarray) -> np.ndarray:
    """Left/right correspondence of a face symmetric about x = 0 (optimal assignment of x -> -x).

    Args:
        points: ``(V, D)`` symmetric face, e.g. :func:`read_canonical_face`.

    Returns:
        ``(V,)`` int64 permutation ``p`` with ``points[p] ~ points * (-1, 1, ...)``.
    """
    from scipy.optimize import linear_sum_assignment

    mirrored = points.copy()
    mirrored[:, 0] *= -1
    cost = ((points[:, None, :] - mirrored[None, :, :]) ** 2).sum(-1)
    _, perm = linear_sum_assignment(cost)
    return perm.astype(np.int64)
