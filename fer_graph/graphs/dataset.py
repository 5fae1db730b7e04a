"""PyG ``InMemoryDataset``s of face-landmark graphs, one per landmark source.

Storage: every graph of a dataset has the same topology, so the processed file holds a few contiguous
tensors (``pos`` of all graphs back to back, labels, ids, graph attributes) and ONE ``edge_index``,
attached to each graph on access; no per-graph copy of the edges is ever stored (35k FER-2013 graphs x
2,644 directed edges would waste > 1 GB).

On-disk layout of a dataset built into ``OUT``::

    OUT/
      processed/<source>-<hash>/data.pt     tensors (PyG InMemoryDataset format), written atomically
      processed/<source>-<hash>/meta.json   build options, class/subject/split names, topology, skips
      landmarks/...                          MediaPipe extraction cache (image sources, resumable)

``<hash>`` digests the build options that change the graphs (not where the raw data is, so ``OUT``
and the raw data can be moved), and datasets built with other options live side by side. A
``meta.json`` whose build options or raw-data fingerprint (relative file names, sizes, mtimes) differ
from the current ones triggers a rebuild; ``raw_root`` is recorded in its ``options`` for information.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset

from .. import __version__
from .._io import atomic_path, read_json, write_json
from ..exceptions import DatasetLayoutError, LandmarkFileError
from ..labels import CANONICAL_LABELS, sort_labels
from ..landmarks._types import LandmarkSet, SkipRecord
from .normalize import normalize_for_topology
from .pose import head_pose
from .topology import Topology, get_topology, topology_for_points

__all__ = ["FaceGraphDataset", "CKLandsGraphs", "LandmarkCSVGraphs", "NoSamplesError", "head_pose",
           "write_skipped_csv"]

#: Bump when the processed format changes: old processed folders are rebuilt, never misread.
FORMAT_VERSION = 1


class NoSamplesError(DatasetLayoutError):
    """A build whose every input was skipped (unreadable images, no face, unlabelled rows ...).

    Attributes:
        skipped: the :class:`~fer_graph.landmarks.SkipRecord` of every input.
        skipped_csv: where they were written (``OUT/skipped.csv``), or ``None``.
    """

    def __init__(self, message: str, skipped: list[SkipRecord], skipped_csv: Path | None = None) -> None:
        super().__init__(message)
        self.skipped, self.skipped_csv = skipped, skipped_csv


def write_skipped_csv(path: str | os.PathLike, records) -> None:
    """Write skip records (:class:`SkipRecord` or dicts with ``path``, ``reason``, ``detail``) as a CSV
    with that header, atomically (UTF-8)."""
    rows = [r if isinstance(r, dict) else {"path": r.path, "reason": r.reason, "detail": r.detail} for r in records]
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "reason", "detail"])
        writer.writeheader()
        writer.writerows(rows)


#: Options recorded in ``meta.json`` for information only: they do not change the graphs, so they
#: neither name the processed folder nor make it stale (``raw_fingerprint`` tracks the raw data).
INFO_OPTIONS = frozenset({"raw_root"})


def _build_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options that change the built graphs, JSON-normalized (tuples as lists) for comparison."""
    return json.loads(json.dumps({k: v for k, v in options.items() if k not in INFO_OPTIONS}, default=str))


def _options_hash(options: dict[str, Any]) -> str:
    """10 hex digits of sha256 over the format version and the build options (not ``INFO_OPTIONS``)."""
    blob = json.dumps({"format": FORMAT_VERSION, **_build_options(options)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


class FaceGraphDataset(InMemoryDataset):
    """Base class: landmark graphs of one fixed topology with normalized coordinates as node features.

    Each item is a :class:`torch_geometric.data.Data` with

    - ``x``, ``pos``: ``(V, D)`` float32 normalized landmarks (centroid at 0, inter-ocular distance 1,
      eye line horizontal when ``align``; D = 2, or 3 with MediaPipe z); ``x`` is ``pos`` unless a
      transform builds other features.
    - ``edge_index``: ``(2, 2E)`` int64, the topology's shared tensor (read-only).
    - ``y``: ``(1,)`` class index into :attr:`classes`; ``subject``, ``sequence``, ``split``: ``(1,)``
      int64 indices into :attr:`subjects`, :attr:`sequences`, :attr:`splits` (-1 when unknown).
    - ``sample_id``: str. Optional: ``onset`` ``(V, D)`` (neutral frame, CK+ lands), ``blendshapes``
      ``(1, 52)``, ``transform`` ``(1, 4, 4)``, ``head_pose`` ``(1, 3)`` degrees, ``tier`` ``(1,)``.
    - ``norm_center`` ``(1, D)``, ``norm_scale`` ``(1,)``, ``norm_angle`` ``(1,)``: the normalization
      removed (input units), to map back to pixels / image coordinates.

    Subclasses set :attr:`source` and implement :meth:`read_landmarks`; options passed to ``__init__``
    are recorded in ``meta.json`` and, except :data:`INFO_OPTIONS`, name the processed folder.
    """

    source: ClassVar[str] = ""

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        options: dict[str, Any],
        transform: Callable[[Data], Data] | None = None,
        force_reload: bool = False,
        log: bool = False,
    ) -> None:
        self.options = {"source": self.source, **options}
        self.build_seconds: float | None = None
        self._building = False  # set by process(): a failure after it may discard the processed folder
        out = self._out = Path(os.path.expanduser(root))
        self._processed_name = f"{self.source}-{_options_hash(self.options)}"
        meta_path = Path(self.processed_dir) / "meta.json"
        if meta_path.is_file() and not force_reload:
            force_reload = self._is_stale(meta_path)
        existed = {p for p in (out, out / "processed", Path(self.processed_dir)) if p.exists()}
        try:
            super().__init__(str(out), transform=transform, force_reload=force_reload, log=log)
        except BaseException:
            self._discard_failed_build(existed)
            raise
        self.meta: dict[str, Any] = read_json(self.processed_paths[1])
        self.load(self.processed_paths[0])
        self.topology: Topology = get_topology(self.meta["topology"])
        self._edge_index = self.topology.edge_index

    def _is_stale(self, meta_path: Path) -> bool:
        """Whether the processed folder of ``meta_path`` differs in format, build options or raw fingerprint.

        A current folder whose ``INFO_OPTIONS`` (``raw_root``) differ from this dataset's gets them
        updated in its ``meta.json`` (skipped when the folder is read-only). An unreadable meta is stale.
        """
        try:
            old = read_json(meta_path)
            stale = old.get("format") != FORMAT_VERSION or old.get("fingerprint") != self.raw_fingerprint() \
                or _build_options(old.get("options")) != _build_options(self.options)
        except (ValueError, OSError, AttributeError, TypeError):
            return True
        info = {k: v for k, v in self.options.items() if k in INFO_OPTIONS}
        if not stale and any(old["options"].get(k) != v for k, v in info.items()):
            old["options"].update(info)
            try:
                write_json(meta_path, old)
            except OSError:
                pass
        return stale

    def _discard_failed_build(self, existed: set[Path]) -> None:
        """After a failed build, leave no empty or partial processed folder.

        Unless the processed folder still holds a complete earlier build (``data.pt`` and ``meta.json``),
        the files a build writes there (``data.pt``, ``meta.json``, PyG's ``pre_*.pt``, temporary files)
        are removed, then the folder and ``OUT/processed`` if left empty; ``OUT`` too if this call created
        it and it is left empty. Other files are never touched.
        """
        processed = Path(self.processed_dir)
        complete = (processed / "meta.json").is_file() and (processed / "data.pt").is_file()
        empty = [self._out] if self._out not in existed else []
        if processed.is_dir() and not complete and (self._building or processed not in existed):
            for name in ("data.pt", "meta.json", "pre_transform.pt", "pre_filter.pt"):
                (processed / name).unlink(missing_ok=True)
            for tmp in processed.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
            empty = [processed, processed.parent, *empty]
        for folder in empty:
            try:
                folder.rmdir()  # only if empty
            except OSError:
                pass

    # ----------------------------------------------------------------- subclass API
    def read_landmarks(self) -> LandmarkSet:
        """Read the raw source into a :class:`LandmarkSet` (implemented by each source)."""
        raise NotImplementedError

    def raw_fingerprint(self) -> str:
        """Cheap digest of the raw files (names, sizes, mtimes); a change triggers a rebuild."""
        return _fingerprint(Path(self.raw_dir), (p for p in Path(self.raw_dir).rglob("*") if p.is_file()))

    # ----------------------------------------------------------------- PyG plumbing
    @property
    def raw_dir(self) -> str:
        """The folder the source reads (``raw_root`` of the subclasses that read one)."""
        return str(self._raw_root)

    @property
    def processed_dir(self) -> str:
        return str(self._out / "processed" / self._processed_name)

    @property
    def processed_file_names(self) -> list[str]:
        return ["data.pt", "meta.json"]

    def process(self) -> None:
        """Read the raw landmarks and write ``data.pt`` then ``meta.json`` (called by PyG when needed).

        Raises:
            NoSamplesError: every input was skipped; ``OUT/skipped.csv`` lists them first.
            DatasetLayoutError, LandmarkFileError, UnknownLabelError, ValueError: from the source.
        """
        self._building = True
        start = time.perf_counter()
        lms = self.read_landmarks()
        if len(lms) == 0:
            raise self._no_samples(lms)
        data, slices, meta = _to_storage(lms, self.options)
        meta.update(getattr(self, "_extra_meta", {}))
        meta["fingerprint"] = self.raw_fingerprint()
        meta["build_seconds"] = round(time.perf_counter() - start, 3)
        Path(self.processed_paths[1]).unlink(missing_ok=True)  # an earlier build's meta must not describe new data
        with atomic_path(self.processed_paths[0]) as tmp:
            torch.save((data.to_dict(), slices, Data), tmp)
        write_json(self.processed_paths[1], meta)  # written last: its presence marks a complete build
        self.build_seconds = meta["build_seconds"]

    def _no_samples(self, lms: LandmarkSet) -> NoSamplesError:
        """Write ``OUT/skipped.csv`` and the error naming the input, the top skip reasons and that file."""
        where = self.options.get("raw_root") or self.raw_dir
        csv_path = self._out / "skipped.csv"
        write_skipped_csv(csv_path, lms.skipped)
        if not lms.skipped:
            return NoSamplesError(f"{where}: no samples to build a dataset from, and no input was skipped "
                                  f"(source {lms.source}); {csv_path} is empty", [], csv_path)
        counts = Counter(r.reason for r in lms.skipped).most_common()
        shown = []
        for reason, n in counts[:3]:
            first = next(r for r in lms.skipped if r.reason == reason)
            shown.append(f"{reason} {n} (e.g. {first.path}" + (f": {first.detail[:160]})" if first.detail else ")"))
        more = f", and {len(counts) - 3} other reason(s)" if len(counts) > 3 else ""
        return NoSamplesError(
            f"{where}: no samples to build a dataset from: all {len(lms.skipped)} input(s) were skipped: "
            + "; ".join(shown) + f"{more}. Every skipped input, with its reason, is listed in {csv_path}",
            list(lms.skipped), csv_path)

    def get(self, idx: int) -> Data:
        data = super().get(idx)
        data.edge_index = self._edge_index
        data.x = data.pos
        return data

    # ----------------------------------------------------------------- convenience
    @property
    def classes(self) -> list[str]:
        """Canonical class names in class-index order."""
        return list(self.meta["classes"])

    @property
    def num_classes(self) -> int:
        return len(self.meta["classes"])

    @property
    def subjects(self) -> list[str]:
        return list(self.meta["subjects"])

    @property
    def sequences(self) -> list[str]:
        return list(self.meta["sequences"])

    @property
    def splits(self) -> list[str]:
        return list(self.meta["splits"])

    @property
    def sample_ids(self) -> list[str]:
        """Sample ids of the graphs of this (possibly index-selected) dataset, in order."""
        ids = self._data.sample_id
        return list(ids) if self._indices is None else [ids[i] for i in self.indices()]

    def tensor(self, key: str) -> Tensor:
        """A stored attribute for every graph of this (possibly index-selected) dataset, stacked.

        ``dataset.tensor("pos")`` is ``(G, V, D)``; graph-level keys give ``(G, ...)``. A view of the
        storage when the dataset is not index-selected (no copy).
        """
        store = self._data[key]
        per_graph = int(self.slices[key][1] - self.slices[key][0])
        n_all = len(self.slices[key]) - 1
        stacked = store.view(n_all, per_graph, *store.shape[1:]) if per_graph > 1 else store.view(n_all, *store.shape[1:])
        if self._indices is None:
            return stacked
        return stacked[torch.as_tensor(self.indices(), dtype=torch.long)]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, topology={self.meta['topology']!r}, "
                f"classes={self.classes})")


def _fingerprint(root: Path, files) -> str:
    h = hashlib.sha256()
    for p in sorted(files):
        st = p.stat()
        h.update(f"{p.relative_to(root)}:{st.st_size}:{int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:16]


def _index(values: list[str | None]) -> tuple[Tensor, list[str]]:
    names = sorted({v for v in values if v is not None})
    lookup = {n: i for i, n in enumerate(names)}
    return torch.tensor([lookup[v] if v is not None else -1 for v in values], dtype=torch.long), names


def _to_storage(lms: LandmarkSet, options: dict[str, Any]) -> tuple[Data, dict[str, Tensor], dict[str, Any]]:
    """Normalize a LandmarkSet and lay it out as collated InMemoryDataset storage plus meta.

    Raises:
        DatasetLayoutError: ``lms`` is empty.
        ValueError: ``include_z`` with 2-D landmarks, or a point count no topology has.
    """
    n = len(lms)
    if n == 0:
        raise NoSamplesError(f"no samples to build a dataset from (source {lms.source})", list(lms.skipped))
    topo = topology_for_points(lms.num_points, include_iris=options.get("include_iris", False))
    dims = 3 if options.get("include_z") and lms.points.shape[-1] == 3 else 2
    if options.get("include_z") and lms.points.shape[-1] != 3:
        raise ValueError("include_z=True but the landmarks have no z coordinate")

    def norm(which: str) -> tuple[Tensor, Any]:
        pts, params = normalize_for_topology(lms.pixel_points(which), topo, dims=dims,
                                             align=options.get("align", True))
        return torch.from_numpy(pts.reshape(n * topo.num_nodes, dims)), params

    pos, params = norm("points")
    store: dict[str, Any] = {"pos": pos, "norm_center": torch.from_numpy(params.center),
                             "norm_scale": torch.from_numpy(params.scale), "norm_angle": torch.from_numpy(params.angle)}
    names = _add_indices(store, lms)
    if lms.onset is not None:
        store["onset"] = norm("onset")[0]
    if lms.frames is not None:
        store["frames"] = _normalized_frames(lms, topo, dims, options.get("align", True))
    _add_face_attributes(store, lms)
    slices = _slices(store, n, topo.num_nodes)
    store["sample_id"] = list(lms.sample_ids)
    slices["sample_id"] = torch.arange(n + 1, dtype=torch.long)
    meta = {"format": FORMAT_VERSION, "fer_graph_version": __version__, "source": lms.source, "options": options,
            "topology": topo.name, "num_nodes": topo.num_nodes, "num_edges": topo.num_edges, "node_dims": dims,
            **names, **_counts(store["y"].numpy(), store["split"].numpy(), names["classes"], names["splits"]),
            "units": lms.units,
            "skipped": [{"path": r.path, "reason": r.reason, "detail": r.detail} for r in lms.skipped],
            "attributes": sorted(k for k in store if k != "sample_id")}
    return Data(**store), slices, meta


def _normalized_frames(lms: LandmarkSet, topo: Topology, dims: int, align) -> Tensor:
    """``(N * V, T, D)`` float32: every frame normalized on its own as ``pos`` is (cut to the topology's V
    nodes: 468 of 478 Face Landmarker points), laid out node-major so a graph's ``V`` rows are contiguous like
    ``pos``."""
    n, t = lms.frames.shape[:2]
    px = lms.pixel_points("frames").reshape(n * t, *lms.frames.shape[2:])
    pts, _ = normalize_for_topology(px, topo, dims=dims, align=align)
    v = topo.num_nodes
    return torch.from_numpy(np.ascontiguousarray(pts.reshape(n, t, v, dims).transpose(0, 2, 1, 3).reshape(n * v, t, dims)))


def _add_indices(store: dict[str, Any], lms: LandmarkSet) -> dict[str, Any]:
    """Add ``y``, ``subject``, ``sequence``, ``split`` ``(N,)`` int64 to ``store``; return their name lists.

    Returns:
        ``{"classes", "subjects", "sequences", "splits", "graphs"}``: sorted names (``classes`` in
        :func:`fer_graph.labels.sort_labels` order, splits ``["all"]`` without split info) and N.
    """
    classes = sort_labels(lms.labels)
    store["y"] = torch.tensor([classes.index(lab) for lab in lms.labels], dtype=torch.long)
    store["subject"], subjects = _index(lms.subjects)
    store["sequence"], sequences = _index(lms.sequence_ids)
    store["split"], splits = _index(lms.splits if lms.splits is not None else ["all"] * len(lms))
    return {"classes": classes, "subjects": subjects, "sequences": sequences, "splits": splits, "graphs": len(lms)}


def _add_face_attributes(store: dict[str, Any], lms: LandmarkSet) -> None:
    """Add the MediaPipe graph attributes ``lms`` has: ``blendshapes`` (N, 52), ``transform`` (N, 4, 4)
    with ``head_pose`` (N, 3) degrees, ``tier`` (N,) int8."""
    if lms.blendshapes is not None:
        store["blendshapes"] = torch.from_numpy(np.ascontiguousarray(lms.blendshapes, dtype=np.float32))
    if lms.transforms is not None:
        t = np.ascontiguousarray(lms.transforms, dtype=np.float32)
        store["transform"] = torch.from_numpy(t)
        store["head_pose"] = torch.from_numpy(head_pose(t))
    if lms.tiers is not None:
        store["tier"] = torch.from_numpy(np.asarray(lms.tiers, dtype=np.int8))


def _slices(store: dict[str, Any], n: int, num_nodes: int) -> dict[str, Tensor]:
    """InMemoryDataset slices: ``num_nodes`` rows per graph for ``pos``/``onset``, one for the rest."""
    slices: dict[str, Tensor] = {}
    for key in store:
        per = num_nodes if key in ("pos", "onset", "frames") else 1
        slices[key] = torch.arange(0, n * per + 1, per, dtype=torch.long)
    return slices


def _counts(y: np.ndarray, split: np.ndarray, classes: list[str], splits: list[str]) -> dict[str, Any]:
    """``per_class``, ``per_split`` and ``per_class_split`` graph counts from class and split indices."""
    return {
        "per_class": {c: int((y == i).sum()) for i, c in enumerate(classes)},
        "per_split": {s: int((split == i).sum()) for i, s in enumerate(splits)},
        "per_class_split": {
            s: {c: int(((split == j) & (y == i)).sum()) for i, c in enumerate(classes)} for j, s in enumerate(splits)
        },
    }


class CKLandsGraphs(FaceGraphDataset):
    """68-point CK+ lands graphs (iBUG Delaunay topology), apex frame(s) with the neutral onset.

    Args:
        root: output folder (``OUT``) for processed files.
        raw_root: the ``CK+`` folder with ``emotion.csv`` and ``SXXX/omlands.csv``.
        apex_frames: samples per labelled sequence: its last ``K`` frames (see
            :func:`fer_graph.landmarks.read_ck_lands`).
        align: level the eye line (see :func:`fer_graph.graphs.normalize_landmarks`).
        transform: PyG transform applied on access.
        force_reload: rebuild even if a matching processed folder exists.

        sequence_frames, frame_sampling: > 0: a sequence dataset, each graph also carrying ``frames``
            ``(V, T, D)``, T frames from onset to apex, each normalized as ``pos``
            (:func:`fer_graph.landmarks.frames.resample_frames`); 0: frames not stored.

    Items carry ``onset`` (the normalized neutral frame), so displacement features are
    ``pos - onset``. 357 labelled sequences, 99 subjects, 6 classes with the shipped data.
    """

    source = "ck-lands"

    def __init__(self, root: str | os.PathLike, raw_root: str | os.PathLike, *, apex_frames: int = 1,
                 align: bool = True, sequence_frames: int = 0, frame_sampling: str = "uniform",
                 transform: Callable | None = None, force_reload: bool = False) -> None:
        self._raw_root = Path(raw_root)
        if not (self._raw_root / "emotion.csv").is_file():
            raise DatasetLayoutError(
                f"{self._raw_root}: no emotion.csv; expected the CK+ lands folder "
                "(emotion.csv + SXXX/omlands.csv, see data/README.md)"
            )
        from ..landmarks.frames import check_frame_options

        if sequence_frames:
            check_frame_options(sequence_frames, frame_sampling)
        seq = {"sequence_frames": sequence_frames, "frame_sampling": frame_sampling} if sequence_frames else {}
        super().__init__(root, options={"apex_frames": apex_frames, "align": align, **seq,
                                        "raw_root": str(self._raw_root.resolve())},
                         transform=transform, force_reload=force_reload)

    def raw_fingerprint(self) -> str:
        return _fingerprint(self._raw_root, [self._raw_root / "emotion.csv", *self._raw_root.glob("*/omlands.csv")])

    def read_landmarks(self) -> LandmarkSet:
        from ..landmarks.ck_lands import read_ck_lands

        return read_ck_lands(self._raw_root, apex_frames=self.options["apex_frames"],
                             sequence_frames=self.options.get("sequence_frames", 0),
                             frame_sampling=self.options.get("frame_sampling", "uniform"))


class LandmarkCSVGraphs(FaceGraphDataset):
    """Graphs from a landmark CSV (generic schema or OpenFace 2.x, see :func:`fer_graph.landmarks.read_landmark_csv`).

    Args:
        root: output folder for processed files.
        csv_path: the landmark CSV.
        align, include_z, include_iris: node-feature options (z needs 3-D landmarks).
        units, image_size, label, subject: see :func:`~fer_graph.landmarks.read_landmark_csv`.
    """

    source = "csv"

    def __init__(self, root: str | os.PathLike, csv_path: str | os.PathLike, *, align: bool = True,
                 include_z: bool = False, include_iris: bool = False, units: str = "pixels",
                 image_size: tuple[int, int] | None = None, label: str | None = None,
                 subject: str | None = None, transform: Callable | None = None,
                 force_reload: bool = False) -> None:
        self._csv = Path(csv_path)
        if not self._csv.is_file():
            raise DatasetLayoutError(f"{self._csv}: landmark CSV not found")
        super().__init__(root, options={"align": align, "include_z": include_z, "include_iris": include_iris,
                                        "units": units, "image_size": image_size, "label": label,
                                        "subject": subject, "raw_root": str(self._csv.resolve())},
                         transform=transform, force_reload=force_reload)

    @property
    def raw_dir(self) -> str:
        return str(self._csv.parent)

    def raw_fingerprint(self) -> str:
        return _fingerprint(self._csv.parent, [self._csv])

    def read_landmarks(self) -> LandmarkSet:
        """The CSV's labelled rows (``label`` / ``subject`` options: the label and subject of every row of
        a file without those columns, such as one OpenFace video).

        Raises:
            LandmarkFileError: no ``label`` column and no ``label`` option, or a point count no topology
                has (``path:1:``, expected vs got); see also :func:`~fer_graph.landmarks.read_landmark_csv`.
        """
        from ..landmarks.csv_source import read_csv_header, read_landmark_csv

        header = read_csv_header(self._csv)
        if "label" not in header and not self.options.get("label"):
            shown = ", ".join(header[:6]) + (f", ... ({len(header)} columns)" if len(header) > 6 else "")
            raise LandmarkFileError(
                f"{self._csv}:1: no 'label' column (columns: {shown}); a graph dataset needs a label per row: "
                f"an expression name, one of {', '.join(CANONICAL_LABELS)} (or a synonym such as happy, angry), "
                "or one label for the whole file (build-graphs --label)")
        lms = read_landmark_csv(self._csv, units=self.options["units"], image_size=self.options["image_size"],
                                label=self.options.get("label"), subject=self.options.get("subject"))
        try:
            topology_for_points(lms.num_points, include_iris=self.options["include_iris"])
        except ValueError as exc:
            raise LandmarkFileError(f"{self._csv}:1: the landmark columns hold {lms.num_points} points per row: "
                                    f"{exc}") from None
        return lms
