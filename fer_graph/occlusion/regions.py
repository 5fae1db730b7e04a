"""Named occlusion regions: which landmark nodes a real-world occluder (sunglasses, a medical mask, a hand
over half the face) hides, for each face topology (``ibug68``, ``mediapipe468``, ``mediapipe478``).

Left and right follow the *subject* (as MediaPipe's ``LEFT_EYE`` and the iBUG anatomy): the subject's
right eye is on the image left. So on a non-mirrored photo ``left_half`` covers the image *right*.

Presets (:data:`REGION_NAMES`); combined presets are unions (``eyes = left_eye | right_eye``,
``brows = left_brow | right_brow``):

- ``left_eye`` / ``right_eye`` (sunglasses). ibug68: the eye contour, 6 points (42-47 / 36-41).
  MediaPipe: a lens, the nodes in the convex hull of the eye contour, the brow's lower edge and that edge
  reflected across the eye's horizontal centre line (as far below the eye as the brow is above it),
  minus the brow nodes.
- ``left_brow`` / ``right_brow``. ibug68: 5 points (22-26 / 17-21). MediaPipe: the nodes in the hull of
  FACE_LANDMARKS_LEFT/RIGHT_EYEBROW (its 10 points: the brow has no inner mesh nodes).
- ``nose``. ibug68: bridge and lower nose, 27-35. MediaPipe: the nodes in the hull of FACE_LANDMARKS_NOSE.
- ``mouth``. ibug68: outer and inner lips, 48-67. MediaPipe: the nodes in the hull of FACE_LANDMARKS_LIPS.
- ``lower_face`` (medical mask, from the nose tip down). ibug68: lower nose 30-35, the mouth and the jaw
  points at or below the nose tip 30. MediaPipe: every node at or below the nose tip (landmark 4).
- ``upper_face``. ibug68: brows, eyes and nose bridge 27-29 (everything above the nose tip except jaw
  points 0, 1, 15, 16). MediaPipe: every node at or above the lowest node of the eye lenses (eyes,
  brows, forehead, temples, upper nose).
- ``left_half`` / ``right_half``: x on the subject's left / right of the midline, in the mean shape
  (ibug68) or the canonical face (MediaPipe).
- ``jaw``. ibug68: JAW_68, the jaw line 0-16 from ear to ear. MediaPipe: the FACE_OVAL nodes at or below
  the mouth corners (61, 291) plus their tessellation neighbours inside the oval (one ring inward).

*Midline* nodes (|x| below 1e-3 of the unit: the nose bridge and tip, lip centres, chin, and for MediaPipe
the 28 mesh points the mirror permutation fixes) belong to neither half. Every preset is closed under the
topology's mirror permutation (left presets map onto right ones); ``upper_face`` and ``lower_face`` are
disjoint, as are the eyes and the mouth. No rule needed symmetrizing: the canonical faces are exactly
symmetric.

iBUG 68: the point groups are :data:`~fer_graph.graphs.topology.JAW_68` etc. (iBUG 300-W 68-point markup,
https://ibug.doc.ic.ac.uk/resources/facial-point-annotations/); "below the nose tip" and the halves use
the frozen CK+ mean shape :data:`fer_graph.graphs._ibug68.MEAN_SHAPE_68` (IOD units, y down).

MediaPipe: regions start from the FACE_LANDMARKS_* connection sets of MediaPipe's
``face_mesh_connections.py`` (frozen in :mod:`fer_graph.graphs._mediapipe_mesh`) and are completed with the
mesh nodes around them, judged in the front view (x, y) of MediaPipe's canonical face model
(``canonical_face_model`` in the Face Landmarker bundle, centimetres, y up, symmetric about x = 0). The
nose tip is landmark 4, the most anterior canonical point (largest z), where iBUG puts its nose tip
(point 31); landmark 1, often called the nose tip, sits 0.67 cm lower on the tip's underside. The index
sets are frozen in :mod:`fer_graph.occlusion._regions_468` by :func:`derive_regions_468`, so the package
never needs the model file; ``tests/occlusion/test_regions.py`` re-derives them when the model is present.
``mediapipe478`` adds the iris points (subject's right iris 468-472, left 473-477, as MediaPipe's
FACE_LANDMARKS_RIGHT_IRIS / LEFT_IRIS) to the eye, ``upper_face`` and half presets of their side.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..exceptions import FerGraphError, ModelFileError
from ..graphs import _ibug68
from ..graphs import _mediapipe_mesh as _mp
from ..graphs import topology as T
from ..graphs.topology import Topology
from . import _regions_468

__all__ = ["REGION_NAMES", "RegionError", "list_regions", "get_region", "region_mask", "draw_region_gallery",
           "attribute_region"]

#: Names accepted by :func:`get_region`, in gallery order.
REGION_NAMES: tuple[str, ...] = (
    "left_eye", "right_eye", "eyes", "left_brow", "right_brow", "brows", "nose", "mouth",
    "lower_face", "upper_face", "left_half", "right_half", "jaw",
)
_UNIONS = {"eyes": ("left_eye", "right_eye"), "brows": ("left_brow", "right_brow")}
_MIDLINE_TOL = 1e-3  # |x| below this (IOD units for ibug68, cm for MediaPipe) = on the midline
_HULL_TOL = 1e-4  # cm: nodes on a hull's boundary (the defining points themselves) are inside
NOSE_TIP_468 = 4  # most anterior canonical point
MOUTH_CORNERS_468 = (61, 291)


class RegionError(FerGraphError, ValueError):
    """Unknown region name or topology; the message names the bad value and lists the valid ones."""


def list_regions() -> list[str]:
    """The region preset names, :data:`REGION_NAMES` as a list."""
    return list(REGION_NAMES)


def _topology_name(topology: Topology | str) -> str:
    name = topology.name if isinstance(topology, Topology) else topology
    if name not in T.list_topologies():
        raise RegionError(f"unknown topology {name!r}; expected one of {T.list_topologies()}")
    return name


#: Face region each MediaPipe blendshape (ARKit naming) is read from, by name prefix: brows, eyes (eyelids,
#: gaze, and the cheek raise of ``cheekSquint``, AU6, which narrows the eye), nose, mouth (jaw, lips, tongue,
#: cheek puff). Sides are not told apart: a blendshape counts as occluded when its region, both sides, is.
_ATTRIBUTE_REGIONS = (("brow", "brows"), ("cheekSquint", "eyes"), ("eye", "eyes"), ("nose", "nose"),
                      ("cheekPuff", "lower_face"), ("jaw", "lower_face"), ("mouth", "mouth"), ("tongue", "mouth"))


def attribute_region(name: str) -> str:
    """The region preset (:data:`REGION_NAMES`) a graph attribute is read from: the region of a blendshape
    named ``name`` (:data:`_ATTRIBUTE_REGIONS`), or ``""`` (the whole face) for ``_neutral``, head pose and
    unknown names."""
    for prefix, region in _ATTRIBUTE_REGIONS:
        if name.startswith(prefix):
            return region
    return ""


def get_region(name: str, topology: Topology | str) -> np.ndarray:
    """The landmark nodes a region preset covers.

    Args:
        name: one of :data:`REGION_NAMES`.
        topology: a :class:`~fer_graph.graphs.topology.Topology` or its name.

    Returns:
        ``(k,)`` int64 node indices, sorted and unique, ``0 <= i < V`` (a new array on every call).

    Raises:
        RegionError: (a ``ValueError``) unknown region or topology.
    """
    topo = _topology_name(topology)
    if name not in REGION_NAMES:
        raise RegionError(f"unknown region {name!r}; expected one of {list(REGION_NAMES)}")
    return np.array(_regions(topo)[name], dtype=np.int64)


def region_mask(name: str, topology: Topology | str) -> np.ndarray:
    """``(V,)`` bool mask of a region preset, True = occluded (see :func:`get_region`)."""
    topo = T.get_topology(_topology_name(topology))
    mask = np.zeros(topo.num_nodes, dtype=bool)
    mask[get_region(name, topo)] = True
    return mask


@lru_cache(maxsize=None)
def _regions(topology: str) -> dict[str, tuple[int, ...]]:
    base = _regions_68() if topology == "ibug68" else _regions_mediapipe(topology == "mediapipe478")
    for union, parts in _UNIONS.items():
        base[union] = tuple(sorted(set().union(*(base[p] for p in parts))))
    return base


def _regions_68() -> dict[str, tuple[int, ...]]:
    x, y = np.asarray(_ibug68.MEAN_SHAPE_68).T  # IOD units, y down; subject's left at x > 0
    tip = 30  # nose tip, point 31 1-based
    below_tip = [j for j in T.JAW_68 if y[j] >= y[tip]]
    groups = {
        "left_eye": T.LEFT_EYE_68, "right_eye": T.RIGHT_EYE_68,
        "left_brow": T.LEFT_BROW_68, "right_brow": T.RIGHT_BROW_68,
        "nose": T.NOSE_68, "mouth": T.MOUTH_68, "jaw": T.JAW_68,
        "lower_face": (*range(30, 36), *T.MOUTH_68, *below_tip),
        "upper_face": (*T.RIGHT_BROW_68, *T.LEFT_BROW_68, *T.RIGHT_EYE_68, *T.LEFT_EYE_68, 27, 28, 29),
        "left_half": np.flatnonzero(x > _MIDLINE_TOL), "right_half": np.flatnonzero(x < -_MIDLINE_TOL),
    }
    return {k: tuple(sorted(int(i) for i in set(v))) for k, v in groups.items()}


def _regions_mediapipe(iris: bool) -> dict[str, tuple[int, ...]]:
    regions = {name.lower(): tuple(getattr(_regions_468, name)) for name in _regions_468.__all__}
    if iris:
        for side, points in (("left", T.LEFT_IRIS_478), ("right", T.RIGHT_IRIS_478)):
            for key in (f"{side}_eye", f"{side}_half", "upper_face"):
                regions[key] = tuple(sorted({*regions[key], *points}))
    return regions


# ------------------------------------------------------------------------ MediaPipe derivation (frozen)
def _points(connections) -> list[int]:
    return sorted({i for edge in connections for i in edge})


def _polylines(connections) -> list[list[int]]:
    """Split an ordered connection list into its polylines (a new one starts where an edge does not
    continue the previous one)."""
    lines: list[list[int]] = []
    for a, b in connections:
        if lines and lines[-1][-1] == a:
            lines[-1].append(b)
        else:
            lines.append([a, b])
    return lines


def _in_hull(points: np.ndarray, xy: np.ndarray) -> np.ndarray:
    from scipy.spatial import ConvexHull

    eq = ConvexHull(points).equations  # rows (nx, ny, c): inside where nx x + ny y + c <= 0
    return (xy @ eq[:, :2].T + eq[:, 2] <= _HULL_TOL).all(axis=1)


def derive_regions_468(face: np.ndarray) -> dict[str, tuple[int, ...]]:
    """Derive the MediaPipe base presets from the canonical face (the rules of the module docstring).

    Args:
        face: ``(468, 2+)`` canonical face, x right (subject's left), y up, centimetres, symmetric about
            x = 0 (:func:`fer_graph.graphs._canonical_face.read_canonical_face`).

    Returns:
        ``{preset: sorted node tuple}`` for every preset but the unions ``eyes`` and ``brows``.
    """
    xy = np.asarray(face, dtype=np.float64)[:, :2]
    x, y = xy.T

    def hull(*point_sets) -> set[int]:
        return set(np.flatnonzero(_in_hull(np.vstack(point_sets), xy)).tolist())

    regions: dict[str, set[int]] = {}
    for side, eye_c, brow_c in (("left", _mp.LEFT_EYE_CONNECTIONS, _mp.LEFT_EYEBROW_CONNECTIONS),
                                ("right", _mp.RIGHT_EYE_CONNECTIONS, _mp.RIGHT_EYEBROW_CONNECTIONS)):
        eye = _points(eye_c)
        brow = hull(xy[_points(brow_c)])
        lower_edge = min(_polylines(brow_c), key=lambda line: y[line].mean())
        below = xy[lower_edge] * (1, -1) + (0, 2 * y[eye].mean())  # lower brow edge reflected below the eye
        regions[f"{side}_brow"] = brow
        regions[f"{side}_eye"] = hull(xy[eye], xy[lower_edge], below) - brow
    eyes = sorted(regions["left_eye"] | regions["right_eye"])
    regions["nose"] = hull(xy[_points(_mp.NOSE_CONNECTIONS)])
    regions["mouth"] = hull(xy[_points(_mp.LIPS_CONNECTIONS)])
    regions["lower_face"] = set(np.flatnonzero(y <= y[NOSE_TIP_468] + _HULL_TOL).tolist())
    regions["upper_face"] = set(np.flatnonzero(y >= y[eyes].min() - _HULL_TOL).tolist())
    regions["left_half"] = set(np.flatnonzero(x > _MIDLINE_TOL).tolist())
    regions["right_half"] = set(np.flatnonzero(x < -_MIDLINE_TOL).tolist())
    oval = set(_points(_mp.FACE_OVAL_CONNECTIONS))
    arc = {i for i in oval if y[i] <= y[list(MOUTH_CORNERS_468)].max() + _HULL_TOL}
    ring = {j for edge in _mp.TESSELATION_EDGES if set(edge) & arc for j in edge} - oval
    regions["jaw"] = arc | ring
    return {k: tuple(sorted(int(i) for i in v)) for k, v in regions.items()}


# ------------------------------------------------------------------------------------------- gallery
def _default_model() -> Path:
    env = os.environ.get("FER_GRAPH_FACE_LANDMARKER", "").strip()
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2].parent / "shared" / "models" / "face_landmarker.task"


def _face_2d(topology: str, model: str | os.PathLike | None) -> np.ndarray:
    """``(V, 2)`` drawing coordinates (x right = subject's left, y up) of a topology's mean face."""
    if topology == "ibug68":
        return np.asarray(_ibug68.MEAN_SHAPE_68) * (1, -1)
    from ..graphs._canonical_face import read_canonical_face

    path = Path(model) if model is not None else _default_model()
    if not path.is_file():
        raise ModelFileError(f"the {topology} gallery needs the canonical face of face_landmarker.task, "
                             f"not found at {path}; pass model=PATH or set FER_GRAPH_FACE_LANDMARKER")
    xy = read_canonical_face(path)[:, :2]
    if topology == "mediapipe478":  # no canonical iris: centre on the eye contour, ring of radius 0.6 cm
        ring = 0.6 * np.array([(1, 0), (0, 1), (-1, 0), (0, -1)])  # image-right, top, image-left, bottom
        centres = [xy[list(eye)].mean(0) for eye in (T.RIGHT_EYE_468, T.LEFT_EYE_468)]
        xy = np.vstack([xy, *[np.vstack([c, c + ring]) for c in centres]])
    return xy


def draw_region_gallery(path: str | os.PathLike, topologies=("ibug68", "mediapipe468"), *,
                        model: str | os.PathLike | None = None, dpi: int = 100) -> Path:
    """Draw every region preset on the mean face of each topology into one PNG.

    One row per topology, one panel per preset (:data:`REGION_NAMES` order): mesh edges in light gray,
    the preset's nodes in red, titled with the preset name and node count. Faces are drawn as seen
    (non-mirrored): the subject's left is on the image right. The figure is ``1.6 * len(REGION_NAMES)``
    by ``2.0 * len(topologies)`` inches, i.e. ``(2.0 * rows * dpi, 1.6 * 13 * dpi)`` pixels (H, W).

    Args:
        path: PNG file to write (parent folders are created).
        topologies: topology names or objects, one row each.
        model: ``face_landmarker.task`` holding MediaPipe's canonical face (MediaPipe rows only); default
            ``$FER_GRAPH_FACE_LANDMARKER``, else ``shared/models/face_landmarker.task`` next to the repo.
        dpi: resolution.

    Returns:
        the written path.

    Raises:
        RegionError: unknown topology. ModelFileError: a MediaPipe row and no model file.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone, renders with Agg

    names = [_topology_name(t) for t in topologies]
    fig = Figure(figsize=(1.6 * len(REGION_NAMES), 2.0 * len(names)), dpi=dpi)
    axes = fig.subplots(len(names), len(REGION_NAMES), squeeze=False,
                        gridspec_kw=dict(left=0.005, right=0.995, bottom=0.01, top=0.99 - 0.35 / len(names),
                                         wspace=0.05, hspace=0.3))
    for row, topo_name in zip(axes, names):
        topo, xy = T.get_topology(topo_name), _face_2d(topo_name, model)
        for ax, region in zip(row, REGION_NAMES):
            nodes = get_region(region, topo)
            ax.add_collection(LineCollection(xy[np.asarray(topo.edges)], colors="0.8", linewidths=0.4))
            ax.scatter(*xy.T, s=1, c="0.6", linewidths=0)
            ax.scatter(*xy[nodes].T, s=6, c="red", linewidths=0)
            ax.set_title(f"{topo_name}\n{region} ({len(nodes)})", fontsize=8)
            ax.set_aspect("equal")
            ax.axis("off")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
