"""Feature sets: which node features and graph-level attributes a model sees.

A feature spec is a ``+``-joined string of tokens:

- node tokens: ``apex`` (normalized coordinates of the sample frame; ``coords`` is a synonym),
  ``disp`` (displacement from the neutral onset frame, ``pos - onset``; CK+ lands only), ``seq`` (sequence
  datasets, alone: per node the T frames' coordinates and displacements from the onset, frame after frame,
  ``(V, T * 2D)``; the input of ``--arch stgcn``);
- graph tokens: ``blendshapes`` (52 MediaPipe scores), ``pose`` (pitch, yaw, roll in degrees / 90).

Examples: ``"apex+disp"`` (CK+ lands default), ``"apex+blendshapes"`` (MediaPipe default), ``"disp"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # datasets need PyG; features of detected faces (numpy) need neither it nor torch
    from torch import Tensor

    from .dataset import FaceGraphDataset

__all__ = ["FeatureSpec", "NODE_TOKENS", "GRAPH_TOKENS", "POSE_NAMES", "default_features"]

NODE_TOKENS = ("apex", "disp", "seq")
GRAPH_TOKENS = ("blendshapes", "pose")
#: Columns of the ``pose`` token, in order (degrees / 90).
POSE_NAMES = ("pitch", "yaw", "roll")
_SYNONYMS = {"coords": "apex", "xy": "apex", "displacement": "disp", "blendshape": "blendshapes", "headpose": "pose"}


@dataclass(frozen=True)
class FeatureSpec:
    """Parsed feature spec (see module docstring).

    Attributes:
        node: node tokens in canonical order.
        graph: graph-level tokens in canonical order.
    """

    node: tuple[str, ...]
    graph: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> FeatureSpec:
        """Parse ``"apex+disp+blendshapes"``.

        Raises:
            ValueError: unknown token (valid ones listed) or no node token.
        """
        tokens = [_SYNONYMS.get(t.strip().lower(), t.strip().lower()) for t in spec.split("+") if t.strip()]
        unknown = [t for t in tokens if t not in NODE_TOKENS + GRAPH_TOKENS]
        if unknown:
            raise ValueError(f"features={spec!r}: unknown {unknown}; expected '+'-joined tokens from "
                             f"{list(NODE_TOKENS + GRAPH_TOKENS)}")
        node = tuple(t for t in NODE_TOKENS if t in tokens)
        if not node:
            raise ValueError(f"features={spec!r}: needs at least one node token from {list(NODE_TOKENS)}")
        if "seq" in node and len(node) > 1:
            raise ValueError(f"features={spec!r}: 'seq' holds every frame's coordinates and displacements; "
                             "use it without 'apex' or 'disp'")
        return cls(node, tuple(t for t in GRAPH_TOKENS if t in tokens))

    def __str__(self) -> str:
        return "+".join(self.node + self.graph)

    def check(self, ds: FaceGraphDataset) -> None:
        """Raise ``ValueError`` if ``ds`` lacks what the spec needs (names the missing attribute)."""
        need = {"disp": "onset", "seq": "frames", "blendshapes": "blendshapes", "pose": "head_pose"}
        attrs = set(ds.meta["attributes"])
        for token in self.node + self.graph:
            if token in need and need[token] not in attrs:
                raise ValueError(f"features {str(self)!r}: the dataset has no {need[token]!r} "
                                 f"(source {ds.meta['source']}); available: {sorted(attrs)}")

    def node_from(self, pos: Tensor, onset: Tensor | None = None, frames: Tensor | None = None) -> Tensor:
        """``(G, V, F)`` node features (tensors in, tensor out; numpy arrays in, array out) from ``pos`` ``(G, V, D)`` normalized coordinates (IOD units) and, for
        ``disp``, ``onset`` ``(G, V, D)`` normalized neutral frames; for ``seq``, ``frames`` ``(G, V, T, D)``
        (and ``onset``): ``(G, V, T * 2D)``. The one place node features are assembled.

        Raises:
            ValueError: ``disp`` without ``onset``; ``seq`` without ``frames`` or ``onset``.
        """
        if "seq" in self.node:
            if frames is None or onset is None:
                raise ValueError(f"features {str(self)!r} use sequences: pass frames= and onset=")
            per_frame = _cat([frames, frames - onset[:, :, None]])
            return per_frame.reshape(*per_frame.shape[:2], -1)
        if "disp" in self.node and onset is None:
            raise ValueError(f"features {str(self)!r} use displacements: pass onset=")
        parts = [pos if t == "apex" else pos - onset for t in self.node]
        return parts[0] if len(parts) == 1 else _cat(parts)

    def graph_from(self, blendshapes: Tensor | None = None, head_pose: Tensor | None = None) -> Tensor | None:
        """``(G, A)`` float32 graph attributes (a tensor, or an array when the inputs are arrays) from ``blendshapes`` ``(G, 52)`` and ``head_pose`` ``(G, 3)``
        degrees (scaled by 1/90); ``None`` when the spec has no graph token.

        Raises:
            ValueError: a needed input is missing (named).
        """
        parts = []
        for token in self.graph:
            value = blendshapes if token == "blendshapes" else (None if head_pose is None else head_pose / 90.0)
            if value is None:
                raise ValueError(f"features {str(self)!r} use {token!r} graph attributes: pass "
                                 f"{'blendshapes' if token == 'blendshapes' else 'head_pose'}=")
            parts.append(value)
        return _cat([_float32(p, like=parts[0]) for p in parts]) if parts else None

    def graph_names(self) -> tuple[str, ...]:
        """Names of the ``A`` columns of :meth:`graph_from`: the 52 blendshape names
        (:data:`~fer_graph.landmarks.mediapipe_source.BLENDSHAPE_NAMES`) and ``pitch``, ``yaw``, ``roll``."""
        from ..landmarks.mediapipe_source import BLENDSHAPE_NAMES

        return tuple(n for t in self.graph for n in (BLENDSHAPE_NAMES if t == "blendshapes" else POSE_NAMES))

    def node_features(self, ds: FaceGraphDataset) -> Tensor:
        """``(G, V, F)`` float32 node features of every graph of ``ds`` (F = tokens x coordinate dims; ``seq``:
        frames x 2 x coordinate dims)."""
        self.check(ds)
        seq = "seq" in self.node
        return self.node_from(ds.tensor("pos"), ds.tensor("onset") if "disp" in self.node or seq else None,
                              ds.tensor("frames") if seq else None)

    def graph_features(self, ds: FaceGraphDataset) -> Tensor | None:
        """``(G, A)`` float32 graph-level attributes, or ``None`` when the spec has none."""
        self.check(ds)
        return self.graph_from(ds.tensor("blendshapes") if "blendshapes" in self.graph else None,
                               ds.tensor("head_pose") if "pose" in self.graph else None)


def _float32(value: Any, like: Any) -> Any:
    """``value`` as float32, a numpy array when ``like`` is one, else a tensor."""
    if isinstance(like, np.ndarray):
        return np.asarray(value, dtype=np.float32)
    import torch

    return torch.as_tensor(value, dtype=torch.float32)


def _cat(parts: list) -> Any:
    """Concatenate arrays or tensors along the last axis."""
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts, axis=-1)
    import torch

    return torch.cat(parts, dim=-1)


def default_features(ds: FaceGraphDataset) -> FeatureSpec:
    """``apex+disp`` when the dataset has onset frames, ``apex+blendshapes`` when it has blendshapes,
    else ``apex``."""
    attrs = set(ds.meta["attributes"])
    if "onset" in attrs:
        return FeatureSpec(("apex", "disp"))
    if "blendshapes" in attrs:
        return FeatureSpec(("apex",), ("blendshapes",))
    return FeatureSpec(("apex",))
