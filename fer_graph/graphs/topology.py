"""Fixed graph topologies of face landmarks: iBUG 68-point Delaunay and MediaPipe Face Mesh tessellation.

Every graph of one topology shares one ``edge_index``: datasets store it once, never per graph.

Left and right follow the *subject* (as MediaPipe's ``LEFT_EYE`` and the iBUG scheme's anatomy):
the subject's right eye is on the image left. Indices are 0-based throughout (iBUG ``.pts`` files and
the CK+ lands CSVs count from 1: subtract one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch loads with the first edge_index: landmark code and ONNX prediction run without it
    from torch import Tensor

from . import _ibug68, _mediapipe_mesh as _mp

__all__ = [
    "Topology",
    "get_topology",
    "list_topologies",
    "topology_for_points",
    "IBUG68",
    "MEDIAPIPE468",
    "MEDIAPIPE478",
    "JAW_68", "RIGHT_BROW_68", "LEFT_BROW_68", "NOSE_68", "RIGHT_EYE_68", "LEFT_EYE_68", "MOUTH_68",
    "MIRROR_68", "MIRROR_468", "MIRROR_478",
    "RIGHT_EYE_468", "LEFT_EYE_468", "RIGHT_IRIS_478", "LEFT_IRIS_478",
]

# --- iBUG 300-W 68-point markup, 0-based (https://ibug.doc.ic.ac.uk/resources/facial-point-annotations/)
#: Jaw line, from the subject's right ear (image left) to the left ear.
JAW_68: tuple[int, ...] = tuple(range(0, 17))
#: Subject's right eyebrow (image left), points 18-22 1-based.
RIGHT_BROW_68: tuple[int, ...] = tuple(range(17, 22))
#: Subject's left eyebrow (image right), points 23-27 1-based.
LEFT_BROW_68: tuple[int, ...] = tuple(range(22, 27))
#: Nose bridge (28-31) and lower nose (32-36), 1-based.
NOSE_68: tuple[int, ...] = tuple(range(27, 36))
#: Subject's right eye (image left), 37-42 1-based.
RIGHT_EYE_68: tuple[int, ...] = tuple(range(36, 42))
#: Subject's left eye (image right), 43-48 1-based.
LEFT_EYE_68: tuple[int, ...] = tuple(range(42, 48))
#: Outer (49-60) and inner (61-68) lips, 1-based.
MOUTH_68: tuple[int, ...] = tuple(range(48, 68))

#: Horizontal mirror permutation of the iBUG points: ``mirrored[i] = points[MIRROR_68[i]]`` with x negated.
#: An involution (applying it twice is the identity).
MIRROR_68: tuple[int, ...] = (
    *range(16, -1, -1),                               # jaw
    *range(26, 16, -1),                               # brows swap
    27, 28, 29, 30, 35, 34, 33, 32, 31,               # nose bridge fixed, nostrils swap
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,   # eyes swap (corner to corner)
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,   # outer lips
    64, 63, 62, 61, 60, 67, 66, 65,                   # inner lips
)


MIRROR_468: tuple[int, ...] = _mp.MIRROR_468


def _points(connections: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    return tuple(sorted({i for edge in connections for i in edge}))


# --- MediaPipe Face Mesh (mediapipe/python/solutions/face_mesh_connections.py; MediaPipe LEFT = subject's left)
#: Subject's right eye contour (image left, around point 33), 16 points.
RIGHT_EYE_468: tuple[int, ...] = _points(_mp.RIGHT_EYE_CONNECTIONS)
#: Subject's left eye contour (image right, around point 263), 16 points.
LEFT_EYE_468: tuple[int, ...] = _points(_mp.LEFT_EYE_CONNECTIONS)
#: Subject's right iris: centre 468, then the ring 469-472.
RIGHT_IRIS_478: tuple[int, ...] = (468, 469, 470, 471, 472)
#: Subject's left iris: centre 473, then the ring 474-477.
LEFT_IRIS_478: tuple[int, ...] = (473, 474, 475, 476, 477)


def _iris_edges() -> tuple[tuple[int, int], ...]:
    # Ring (MediaPipe's FACE_LANDMARKS_*_IRIS), spokes centre -> ring, and centre -> its eye contour,
    # so iris nodes join the mesh's single connected component. Our choice, not MediaPipe's.
    edges = set()
    for iris, ring_edges, eye in ((RIGHT_IRIS_478, _mp.RIGHT_IRIS_CONNECTIONS, RIGHT_EYE_468),
                                  (LEFT_IRIS_478, _mp.LEFT_IRIS_CONNECTIONS, LEFT_EYE_468)):
        centre = iris[0]
        edges.update(tuple(sorted(e)) for e in ring_edges)
        edges.update((min(centre, j), max(centre, j)) for j in (*iris[1:], *eye))
    return tuple(sorted(edges))


@dataclass(frozen=True)
class Topology:
    """A fixed face-graph topology.

    Attributes:
        name: ``"ibug68"``, ``"mediapipe468"`` or ``"mediapipe478"``.
        num_nodes: landmark count V.
        edges: undirected edges ``(i, j)`` with ``i < j``, sorted.
        right_eye, left_eye: landmark indices used for inter-ocular distance and eye-line alignment.
        mirror: horizontal mirror permutation (an involution): a mirrored face is
            ``points[mirror] * (-1, 1[, 1])``.
        description: where the edges come from.
    """

    name: str
    num_nodes: int
    edges: tuple[tuple[int, int], ...]
    right_eye: tuple[int, ...]
    left_eye: tuple[int, ...]
    mirror: tuple[int, ...]
    description: str = field(default="", compare=False)

    @property
    def num_edges(self) -> int:
        """Number of undirected edges."""
        return len(self.edges)

    @cached_property
    def edge_index(self) -> Tensor:
        """``(2, 2E)`` int64 COO ``edge_index`` holding both directions of every edge, sorted by source.

        The tensor is shared: treat it as read-only.
        """
        import torch

        e = torch.tensor(self.edges, dtype=torch.long).t()
        both = torch.cat([e, e.flip(0)], dim=1)
        order = torch.argsort(both[0] * self.num_nodes + both[1])
        return both[:, order].contiguous()

    def adjacency(self) -> np.ndarray:
        """``(V, V)`` bool symmetric adjacency matrix without self loops."""
        a = np.zeros((self.num_nodes, self.num_nodes), dtype=bool)
        i, j = np.asarray(self.edges).T
        a[i, j] = a[j, i] = True
        return a

    def __repr__(self) -> str:
        return f"Topology({self.name!r}, nodes={self.num_nodes}, edges={self.num_edges})"


#: Mirror permutation of the 478 Face Landmarker points: the mesh part from MIRROR_468, irises swapped
#: (centre 468 <-> 473; ring points 469-472 and 474-477 are ordered image-right, top, image-left, bottom,
#: so image-right of one iris maps to image-left of the other).
MIRROR_478: tuple[int, ...] = (*_mp.MIRROR_468, 473, 476, 475, 474, 477, 468, 471, 470, 469, 472)

IBUG68 = Topology(
    "ibug68", 68, _ibug68.DELAUNAY_EDGES_68, RIGHT_EYE_68, LEFT_EYE_68, MIRROR_68,
    "Delaunay triangulation of the symmetrized CK+ mean neutral shape (fer_graph/graphs/_ibug68.py)",
)
MEDIAPIPE468 = Topology(
    "mediapipe468", 468, _mp.TESSELATION_EDGES, RIGHT_EYE_468, LEFT_EYE_468, _mp.MIRROR_468,
    "unique undirected edges of MediaPipe FACE_LANDMARKS_TESSELATION on the 468 mesh points",
)
MEDIAPIPE478 = Topology(
    "mediapipe478", 478, tuple(sorted(_mp.TESSELATION_EDGES + _iris_edges())), RIGHT_EYE_468, LEFT_EYE_468,
    MIRROR_478,
    "tessellation plus iris rings, spokes and iris-centre-to-eye-contour edges",
)

_TOPOLOGIES: Mapping[str, Topology] = MappingProxyType({t.name: t for t in (IBUG68, MEDIAPIPE468, MEDIAPIPE478)})


def list_topologies() -> list[str]:
    """Names accepted by :func:`get_topology`."""
    return list(_TOPOLOGIES)


def get_topology(name: str) -> Topology:
    """Look a topology up by name.

    Raises:
        ValueError: unknown name; the message lists the known ones.
    """
    try:
        return _TOPOLOGIES[name]
    except KeyError:
        raise ValueError(f"unknown topology {name!r}; expected one of {list_topologies()}") from None


def topology_for_points(num_points: int, *, include_iris: bool = False) -> Topology:
    """The topology for landmarks with ``num_points`` points (68, 468 or 478).

    478-point Face Landmarker output maps to ``mediapipe468`` (iris dropped) unless ``include_iris``.

    Raises:
        ValueError: no topology for that point count.
    """
    if num_points == 68:
        return IBUG68
    if num_points == 468 or (num_points == 478 and not include_iris):
        return MEDIAPIPE468
    if num_points == 478:
        return MEDIAPIPE478
    raise ValueError(f"no face topology for {num_points} landmarks; expected 68 (iBUG), 468 or 478 (MediaPipe)")
