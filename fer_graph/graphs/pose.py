"""Head pose of a face from MediaPipe's facial transformation matrix."""

from __future__ import annotations

import numpy as np

__all__ = ["head_pose"]


def head_pose(transforms: np.ndarray) -> np.ndarray:
    """Head pose from MediaPipe facial transformation matrices.

    Args:
        transforms: ``(N, 4, 4)`` canonical-face-to-camera matrices (Face Landmarker
            ``facial_transformation_matrixes``); the upper 3x3 block is a scaled rotation.

    Returns:
        ``(N, 3)`` float32 Euler angles in degrees (pitch about x, yaw about y, roll about z; scipy
        ``Rotation.as_euler("xyz")`` of the column-normalized rotation).
    """
    from scipy.spatial.transform import Rotation

    r = np.asarray(transforms, dtype=np.float64)[:, :3, :3]
    r = r / np.linalg.norm(r, axis=1, keepdims=True)
    u, _, vt = np.linalg.svd(r)  # nearest proper rotation, robust to small shear
    r = u @ vt
    return Rotation.from_matrix(r).as_euler("xyz", degrees=True).astype(np.float32)
