"""Image-level occluders: paint a region of the face (sunglasses, a medical mask, half the face) on the image.

Graph masking (:mod:`fer_graph.occlusion.strategies`) *removes* landmarks. A real occluder does something
else: the Face Landmarker never reports a landmark as missing, it still predicts all 478 points, so an
occluder *displaces* landmarks (and changes blendshapes and head pose). These functions paint such
occluders so the detector can be re-run on the occluded image
(:func:`fer_graph.evaluation.image_occlusion.image_occlusion_rows`).

Geometry is left to libraries: the region's convex hull comes from ``scipy.spatial.ConvexHull``, the polygon
is rasterized by ``PIL.ImageDraw.polygon`` and grown by a margin with ``scipy.ndimage.distance_transform_edt``
(every pixel within ``margin`` of the polygon is painted: the exact Minkowski sum with a disk, in pixels).

Coordinates: landmarks are in pixels of the image they are painted on, continuous coordinates with the
image's top-left corner at (0, 0), x right and y down — MediaPipe's normalized x·W, y·H. Pixel (row r,
column c) is the unit square whose centre is (c + 0.5, r + 0.5).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..graphs.topology import Topology, get_topology, topology_for_points
from .regions import get_region

__all__ = ["OccluderStyle", "occluder_style", "paint_occluder", "occluder_area", "fill_area", "save_occluder_gallery", "SHAPES",
           "MASK_COLOR"]

#: Occluder shapes of :func:`paint_occluder`.
SHAPES = ("hull", "band")
#: Light blue of a surgical mask (RGB; gray images get its luma, 203).
MASK_COLOR = (180, 210, 230)
#: Nose-bridge landmark a medical mask reaches up to: MediaPipe 195 (mid bridge, 1.06 cm above the nose
#: tip in the canonical face, above the eye lenses' lowest node at 0.86 cm but, once joined to the cheeks
#: at nose-tip height, below the lenses), iBUG point 30 (0-based 29, the lowest bridge point).
MASK_TOP = {"ibug68": 29, "mediapipe468": 195, "mediapipe478": 195}
_EYE_REGIONS = ("eyes", "left_eye", "right_eye")
_HALF_REGIONS = ("left_half", "right_half")


@dataclass(frozen=True)
class OccluderStyle:
    """How a region is painted (see :func:`occluder_style`).

    Attributes:
        nodes: landmarks whose hull (or band) is painted; may add to the region's own nodes.
        shape: one of :data:`SHAPES`.
        color: gray level or RGB triple.
        label: what the occluder stands for (``"sunglasses"``, ``"medical mask"``...).
    """

    nodes: np.ndarray
    shape: str
    color: int | tuple[int, int, int]
    label: str


def occluder_style(region: str, topology: Topology | str) -> OccluderStyle:
    """The occluder painted for a region preset.

    - ``eyes``, ``left_eye``, ``right_eye``: sunglasses — a black ``band``: the rectangle along the
      principal axis of the eye-lens nodes spanning all of them (for ``eyes``: one band over both eyes,
      including the bridge between them).
    - ``lower_face``: a medical mask — the hull of the region (every node at or below the nose tip, cheek to
      cheek, down to the chin) plus the nose-bridge node :data:`MASK_TOP`, in :data:`MASK_COLOR`.
    - ``left_half``, ``right_half``: a black hull of that half of the face (e.g. a hand or a card).
    - any other preset: a black hull of its nodes.

    Raises:
        RegionError: (a ``ValueError``) unknown region or topology.
    """
    nodes = get_region(region, topology)
    name = topology.name if isinstance(topology, Topology) else topology
    if region in _EYE_REGIONS:
        return OccluderStyle(nodes, "band", 0, "sunglasses")
    if region == "lower_face":
        return OccluderStyle(np.union1d(nodes, [MASK_TOP[name]]), "hull", MASK_COLOR, "medical mask")
    if region in _HALF_REGIONS:
        return OccluderStyle(nodes, "hull", 0, "half-face cover")
    return OccluderStyle(nodes, "hull", 0, "black patch")


def _color(color, gray: bool) -> int | tuple[int, int, int]:
    """A gray level (gray images) or RGB triple from an int, an RGB triple or a PIL colour name."""
    from PIL import Image, ImageColor

    try:
        if isinstance(color, str):
            return ImageColor.getcolor(color, "L" if gray else "RGB")
        if np.ndim(color) == 0:
            v = int(color)
            if v != color or not 0 <= v <= 255:
                raise ValueError
            return v if gray else (v, v, v)
        rgb = tuple(int(c) for c in color)
        if len(rgb) != 3 or any(not 0 <= c <= 255 for c in rgb) or rgb != tuple(color):
            raise ValueError
    except (ValueError, TypeError) as exc:
        raise ValueError(f"color={color!r}; expected a gray level 0..255, an RGB triple or a colour name") from exc
    return Image.new("RGB", (1, 1), rgb).convert("L").getpixel((0, 0)) if gray else rgb


def _iod(points: np.ndarray) -> float:
    try:
        topo = topology_for_points(len(points))
    except ValueError as exc:
        raise ValueError(f"landmarks_px has {len(points)} points: cannot find the eyes to measure the inter-ocular "
                         f"distance; pass iod= (pixels)") from exc
    right, left = points[list(topo.right_eye)].mean(0), points[list(topo.left_eye)].mean(0)
    return float(np.linalg.norm(left - right))


def _polygon(pts: np.ndarray, shape: str) -> np.ndarray:
    """Vertices of the hull or principal-axis band of ``pts`` ((k, 2), any k >= 1)."""
    from scipy.spatial import ConvexHull, QhullError

    if shape == "band":
        centre = pts.mean(0)
        _, _, axes = np.linalg.svd(pts - centre, full_matrices=False)  # rows: principal axes
        if axes.shape[0] < 2:  # one point
            return pts
        local = (pts - centre) @ axes.T
        (x0, y0), (x1, y1) = local.min(0), local.max(0)
        return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]) @ axes + centre
    try:
        return pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError):  # fewer than 3 points, or collinear: PIL draws the segment
        return pts


def paint_occluder(image: np.ndarray, landmarks_px: np.ndarray, nodes, *, margin: float = 0.15,
                   color: int | tuple[int, int, int] | str = 0, shape: str = "hull",
                   iod: float | None = None) -> np.ndarray:
    """Paint a flat occluder over some landmarks of a face image.

    The painted area is the convex hull of ``landmarks_px[nodes]`` (``shape="hull"``) or the rectangle
    along their principal axis spanning them all (``shape="band"``: a sunglasses band over the eyes),
    grown by ``margin`` inter-ocular distances in every direction (rounded corners). Parts outside the
    image are clipped; an area entirely outside leaves the image unchanged.

    Args:
        image: ``(H, W)`` gray or ``(H, W, 3)`` RGB, uint8. Not modified.
        landmarks_px: ``(V, 2)`` (or ``(V, 3)``; z is ignored) float landmark positions in pixels of
            ``image`` (module docstring: x·W, y·H with the top-left corner at 0).
        nodes: indices into the V landmarks (at least one). One or two points, or collinear ones, are
            painted as a dot or a segment grown by the margin.
        margin: growth in inter-ocular distances (>= 0); 0.15 IOD is ≈ 2.8 px on a 48×48 CK+48 face.
        color: gray level 0..255, RGB triple or PIL colour name (``"lightblue"``); on a gray image an RGB
            colour becomes its luma (PIL ``convert("L")``).
        shape: ``"hull"`` or ``"band"`` (:data:`SHAPES`).
        iod: the margin's unit in pixels. Default: the inter-ocular distance of ``landmarks_px`` (distance
            between the eye-landmark centres of the topology with V points: 68, 468 or 478).

    Returns:
        a new uint8 array of ``image``'s shape.

    Raises:
        ValueError: ``image`` not ``(H, W)``/``(H, W, 3)`` uint8 or empty; ``landmarks_px`` not ``(V, 2|3)``
            finite; ``nodes`` empty, not integers or out of range; unknown shape; negative or non-finite
            margin; bad colour; V not a known topology size without ``iod``; ``iod`` <= 0.
    """
    fill = _color(color, gray=np.asarray(image).ndim == 2)  # a bad colour fails before any drawing
    return fill_area(image, occluder_area(image, landmarks_px, nodes, margin=margin, shape=shape, iod=iod), fill)


def fill_area(image: np.ndarray, area: np.ndarray, color: int | tuple[int, int, int] | str = 0) -> np.ndarray:
    """A copy of ``image`` (uint8 ``(H, W)`` or ``(H, W, 3)``) with the ``(H, W)`` bool ``area`` painted in
    ``color`` (as :func:`paint_occluder` takes it)."""
    out = np.asarray(image).copy()
    out[area] = _color(color, gray=out.ndim == 2)
    return out


def occluder_area(image: np.ndarray, landmarks_px: np.ndarray, nodes, *, margin: float = 0.15, shape: str = "hull",
                  iod: float | None = None) -> np.ndarray:
    """``(H, W)`` bool: the pixels :func:`paint_occluder` paints (same arguments and errors, no colour)."""
    from PIL import Image, ImageDraw
    from scipy.ndimage import distance_transform_edt

    img = np.asarray(image)
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)) or 0 in img.shape[:2]:
        raise ValueError(f"image must be (H, W) or (H, W, 3) uint8; got shape {img.shape}, dtype {img.dtype}")
    lm = np.asarray(landmarks_px, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[1] not in (2, 3) or len(lm) == 0:
        raise ValueError(f"landmarks_px must be (V, 2) or (V, 3); got shape {lm.shape}")
    if not np.isfinite(lm[:, :2]).all():
        raise ValueError("landmarks_px holds NaN or inf")
    idx = np.asarray(nodes).ravel()
    if idx.size == 0:
        raise ValueError("nodes is empty: nothing to occlude")
    if not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= len(lm):
        raise ValueError(f"nodes must be integer indices in [0, {len(lm)}); got {idx.dtype} "
                         f"in [{idx.min()}, {idx.max()}]")
    if shape not in SHAPES:
        raise ValueError(f"shape={shape!r}; expected one of {list(SHAPES)}")
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin={margin!r}; expected a finite number >= 0 (inter-ocular distances)")
    unit = _iod(lm[:, :2]) if iod is None else float(iod)
    if not (math.isfinite(unit) and unit > 0):
        raise ValueError(f"inter-ocular distance {unit!r} px; expected > 0")

    grow = margin * unit
    border = int(math.ceil(grow)) + 1  # rasterize on a padded canvas so the margin also grows from parts
    h, w = img.shape[:2]  # of the polygon outside the image
    poly = _polygon(np.unique(lm[idx, :2], axis=0), shape) - 0.5 + border  # to padded pixel-centre coords
    canvas = Image.new("L", (w + 2 * border, h + 2 * border), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in poly] if len(poly) > 1 else [tuple(poly[0])] * 2,
                                   fill=1, outline=1)
    inside = np.asarray(canvas, dtype=bool)
    if not inside.any():
        return np.zeros((h, w), bool)
    if grow > 0:
        inside = distance_transform_edt(~inside) <= grow
    return inside[border:border + h, border:border + w]




def save_occluder_gallery(image: np.ndarray, landmarks_px: np.ndarray, regions, path: str | os.PathLike, *,
                          topology: Topology | str | None = None, margin: float = 0.15, dpi: int = 100) -> Path:
    """Draw a face image and each region's occluder (:func:`occluder_style`) side by side into one PNG.

    Args:
        image: ``(H, W)`` or ``(H, W, 3)`` uint8.
        landmarks_px: ``(V, 2|3)`` landmarks in pixels of ``image``.
        regions: region preset names, one panel each after the clean image.
        path: PNG file to write (parent folders are created).
        topology: of the landmarks (default: from V, see :func:`~fer_graph.graphs.topology.topology_for_points`).
        margin: as in :func:`paint_occluder`.
        dpi: resolution; each panel is 1.8 inches wide.

    Returns:
        the written path.

    Raises:
        ValueError, RegionError: see :func:`paint_occluder` and :func:`occluder_style`.
    """
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone, renders with Agg

    topo = (topology_for_points(len(landmarks_px)) if topology is None else
            get_topology(topology) if isinstance(topology, str) else topology)
    panels = [("clean", np.asarray(image))]
    for region in regions:
        style = occluder_style(region, topo)
        panels.append((f"{region}\n({style.label})", paint_occluder(
            image, landmarks_px, style.nodes, margin=margin, color=style.color, shape=style.shape)))
    fig = Figure(figsize=(1.8 * len(panels), 2.2), dpi=dpi)
    axes = fig.subplots(1, len(panels), squeeze=False,
                        gridspec_kw=dict(left=0.01, right=0.99, bottom=0.01, top=0.8, wspace=0.05))[0]
    for ax, (title, pic) in zip(axes, panels):
        ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
