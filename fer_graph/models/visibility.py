"""Per-landmark visibility estimator: P(landmark visible) from the image patches around a Face Mesh.

The Face Landmarker predicts every point of an occluded face, so which landmarks are hidden must be
estimated. :class:`VisibilityNet` encodes each landmark's patch features
(:func:`~fer_graph.occlusion.patches.patch_features`: square lattices of gray levels) with cues derived from
them — each lattice's contrast and sharpness (blur and noise change them) and its difference from the
mirror landmark's lattice, flipped (most occluders cover one side more than the other) — and its landmark
identity; then neighbours vote through graph convolutions over the Face Mesh tessellation (occluders cover
connected regions), each block also seeing the mean over the face, and one logit of *hidden* comes out per
landmark. The design follows the visibility heads of landmark detectors
(LUVLi, Kumar et al., CVPR 2020), on top of a fixed detector instead of inside it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._io import atomic_path
from .._random import seeded_call, torch_generator
from ..graphs.topology import get_topology
from ..occlusion.patches import RADII
from .fast import FastGCNConv

__all__ = ["VisibilityConfig", "VisibilityNet", "VisibilityEstimator", "load_visibility"]


@dataclass(frozen=True)
class VisibilityConfig:
    """Hyper-parameters of :class:`VisibilityEstimator` (widths, optimisation, seed)."""

    hidden: int = 32
    layers: int = 3
    node_embedding: int = 8
    epochs: int = 24
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0


class VisibilityNet(nn.Module):
    """Patch cues + residual GCN over the mesh with face context → ``(B, V)`` hidden-landmark logits.

    Args:
        in_features: P, patch features per landmark: ``lattices`` square lattices one after the other.
        num_nodes, edge_index: the mesh; mirror: ``(V,)`` index of each landmark's mirror image.
        lattices: lattices per landmark (``P / lattices`` must be a square).

    Shapes: forward ``x`` ``(B, V, P)`` float32 patch features → ``(B, V)`` logits (positive: hidden).
    """

    def __init__(self, in_features: int, num_nodes: int, edge_index: Tensor, mirror: Tensor, *, hidden: int = 32,
                 layers: int = 3, node_embedding: int = 8, lattices: int = 2) -> None:
        super().__init__()
        side = round((in_features / lattices) ** 0.5)
        if lattices * side * side != in_features:
            raise ValueError(f"VisibilityNet: {in_features} features are not {lattices} square lattices")
        self.num_nodes, self.lattices, self.side = num_nodes, lattices, side
        self.register_buffer("edge_index", edge_index.clone(), persistent=False)
        self.register_buffer("mirror", mirror.clone(), persistent=False)
        self.identity = nn.Embedding(num_nodes, node_embedding)
        cues = 2 * in_features + 3 * lattices
        self.input = nn.Sequential(nn.Linear(cues + node_embedding, hidden), nn.ELU(), nn.Linear(hidden, hidden))
        self.convs = nn.ModuleList(FastGCNConv(hidden, hidden) for _ in range(layers))
        self.context = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.out = nn.Linear(hidden, 1)

    def cues(self, x: Tensor) -> Tensor:
        """``(B, V, 2P + 3L)``: the lattices, their difference from the flipped mirror lattices, and per
        lattice its standard deviation, mean absolute Laplacian and mean absolute mirror difference."""
        b, v, _ = x.shape
        lat = x.view(b, v, self.lattices, self.side, self.side)
        mirrored = lat[:, self.mirror].flip(-1)  # the mirror landmark's lattice, left and right swapped
        diff = lat - mirrored
        lap = (4 * lat[..., 1:-1, 1:-1] - lat[..., :-2, 1:-1] - lat[..., 2:, 1:-1] - lat[..., 1:-1, :-2]
               - lat[..., 1:-1, 2:])
        stats = [lat.flatten(-2).std(-1), lap.abs().flatten(-2).mean(-1), diff.abs().flatten(-2).mean(-1)]
        return torch.cat([x, diff.reshape(b, v, -1), *stats], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1] != self.num_nodes:
            raise ValueError(f"VisibilityNet: x must be (B, {self.num_nodes}, P); got {tuple(x.shape)}")
        ident = self.identity.weight.expand(x.shape[0], -1, -1)
        h = self.input(torch.cat([self.cues(x), ident], dim=-1))
        for conv, ctx, norm in zip(self.convs, self.context, self.norms):
            h = h + F.elu(norm(conv(h, self.edge_index) + ctx(h.mean(1, keepdim=True))))
        return self.out(h).squeeze(-1)


class VisibilityEstimator:
    """Fit / predict_proba / save / load around :class:`VisibilityNet`.

    Args:
        topology: landmark topology name (``"mediapipe468"``): its tessellation is the graph.
        config: hyper-parameters.
        threshold: P(visible) below which a landmark counts as hidden (:meth:`predict_hidden`).

    Attributes:
        classes_: ``("hidden", "visible")``: :meth:`predict_proba` gives P(visible).
        history_: per epoch, mean training loss (and validation loss when :meth:`fit` had validation data).
    """

    classes_ = ("hidden", "visible")

    def __init__(self, topology: str = "mediapipe468", config: VisibilityConfig = VisibilityConfig(),
                 threshold: float = 0.5) -> None:
        self.topology, self.config, self.threshold = topology, config, float(threshold)
        self.module_: VisibilityNet | None = None
        self.in_features_: int | None = None
        self.history_: list[dict[str, float]] = []

    def _new_module(self, in_features: int) -> VisibilityNet:
        topo = get_topology(self.topology)
        c = self.config
        return VisibilityNet(in_features, topo.num_nodes, torch.as_tensor(topo.edge_index),
                             torch.as_tensor(topo.mirror, dtype=torch.long), hidden=c.hidden, layers=c.layers,
                             node_embedding=c.node_embedding, lattices=len(RADII))

    def fit(self, features: np.ndarray, hidden: np.ndarray, *, val: tuple[np.ndarray, np.ndarray] | None = None,
            on_epoch=None) -> VisibilityEstimator:
        """Train on ``features`` ``(N, V, P)`` (float16/32) and ``hidden`` ``(N, V)`` bool labels; binary
        cross-entropy, AdamW with cosine decay; the last epoch is kept (``val`` is only logged).

        Raises:
            ValueError: shapes disagree or there are no samples.
        """
        if len(features) == 0 or features.shape[:2] != hidden.shape:
            raise ValueError(f"VisibilityEstimator.fit: features {features.shape} and hidden {hidden.shape} disagree")
        c = self.config
        gen = torch_generator(c.seed)
        self.in_features_ = int(features.shape[-1])
        self.module_ = seeded_call(lambda: self._new_module(self.in_features_), gen)
        opt = torch.optim.AdamW(self.module_.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(c.epochs, 1))
        x, y = torch.from_numpy(np.asarray(features)), torch.from_numpy(np.asarray(hidden, np.float32))
        self.history_ = []
        for epoch in range(1, c.epochs + 1):
            self.module_.train()
            order, total = torch.randperm(len(x), generator=gen), 0.0
            for start in range(0, len(x), c.batch_size):
                idx = order[start:start + c.batch_size]
                loss = F.binary_cross_entropy_with_logits(self.module_(x[idx].float()), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            sched.step()
            log = {"epoch": epoch, "train_loss": total / len(x)}
            if val is not None and len(val[0]):
                p = np.clip(1.0 - self.predict_proba(val[0]), 1e-7, 1 - 1e-7)
                log["val_loss"] = float(-np.mean(val[1] * np.log(p) + (1 - val[1]) * np.log(1 - p)))
            self.history_.append(log)
            if on_epoch is not None:
                on_epoch(log)
        self.module_.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, features: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """``(N, V)`` float32 P(visible) of ``features`` ``(N, V, P)`` (or ``(V, P)`` for one face: ``(V,)``).

        Raises:
            RuntimeError: not fitted.
        """
        if self.module_ is None:
            raise RuntimeError("VisibilityEstimator: call fit() or load() first")
        x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        one = x.dim() == 2
        x = x[None] if one else x
        self.module_.eval()
        out = torch.cat([torch.sigmoid(-self.module_(x[s:s + batch_size])) for s in range(0, len(x), batch_size)]
                        ) if len(x) else torch.zeros(0, self.module_.num_nodes)
        out = out.numpy().astype(np.float32)
        return out[0] if one else out

    def predict_hidden(self, features: np.ndarray) -> np.ndarray:
        """``(N, V)`` bool: P(visible) < :attr:`threshold`."""
        return self.predict_proba(features) < self.threshold

    def save(self, path: str | os.PathLike) -> None:
        """Weights, configuration, topology and threshold in one file, written atomically.

        Raises:
            RuntimeError: not fitted.
        """
        if self.module_ is None:
            raise RuntimeError("VisibilityEstimator.save: not fitted")
        blob = {"format": "fer-graph-visibility/1", "topology": self.topology, "config": asdict(self.config),
                "threshold": self.threshold, "in_features": self.in_features_, "state_dict": self.module_.state_dict(),
                "history": self.history_}
        with atomic_path(path) as tmp:
            torch.save(blob, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> VisibilityEstimator:
        """Read :meth:`save`'s file.

        Raises:
            FileNotFoundError: no such file. ValueError: not a visibility model.
        """
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format") != "fer-graph-visibility/1":
            raise ValueError(f"{path}: not a fer-graph visibility model")
        est = cls(blob["topology"], VisibilityConfig(**blob["config"]), blob["threshold"])
        est.in_features_ = int(blob["in_features"])
        est.module_ = est._new_module(est.in_features_)
        est.module_.load_state_dict(blob["state_dict"])
        est.module_.eval()
        est.history_ = list(blob.get("history", []))
        return est


def load_visibility(path: str | os.PathLike, topology: str | None = None) -> VisibilityEstimator:
    """:meth:`VisibilityEstimator.load` of a ``train-visibility`` output folder (its ``visibility.pt``) or file.

    Raises:
        FileNotFoundError: nothing there. ValueError: not a visibility model, or one for another topology
            than ``topology``.
    """
    from pathlib import Path

    p = Path(path)
    p = p / "visibility.pt" if p.is_dir() else p
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no visibility model (train one with fer-graph train-visibility)")
    est = VisibilityEstimator.load(p)
    if topology is not None and est.topology != topology:
        raise ValueError(f"{p}: visibility model for {est.topology}, the data is {topology}")
    return est
