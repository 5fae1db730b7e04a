"""Occlusion and landmark noise as PyG transforms on single face graphs.

Each transform takes a ``torch_geometric.data.Data`` face graph (``x`` ``(V', F)``, ``edge_index``,
optional ``node_id`` ``(V',)`` landmark indices — absent means ``0..V-1``) and returns a new graph; the
input is never modified. Landmarks are addressed by landmark index, so the transforms compose (e.g. noise
then occlusion) and also apply to graphs that are already subgraphs.

The dense-batch equivalents used by the sweep and the trainer are :func:`fer_graph.occlusion.strategies.occlude`
and :func:`fer_graph.occlusion.noise.landmark_noise`; tests check that both give the same model outputs.

Example::

    from torch_geometric.transforms import Compose
    t = Compose([LandmarkNoise(0.05, dims=2), Occlude("mouth", "ibug68", strategy="removal")])
    g = t(data)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import subgraph

from .._random import torch_generator
from ..graphs.topology import Topology, get_topology
from .masks import patch_masks, random_masks
from .noise import landmark_noise
from .regions import get_region
from .strategies import check_strategy

__all__ = ["Occlude", "RandomPatchOcclusion", "RandomNodeDropout", "LandmarkNoise", "occlude_graph"]


def _node_ids(data: Data) -> Tensor:
    nid = getattr(data, "node_id", None)
    return torch.arange(data.num_nodes) if nid is None else nid


def occlude_graph(data: Data, nodes: Sequence[int] | np.ndarray | Tensor, strategy: str, *,
                  mean_face: Tensor | None = None, append_visibility: bool = False) -> Data:
    """Occlude landmarks ``nodes`` (landmark indices) of one graph.

    Args:
        data: face graph with ``x`` ``(V', F)`` and ``edge_index``.
        nodes: occluded landmark indices (matched against ``data.node_id`` when present).
        strategy: ``removal`` — drop the nodes and their edges; ``x``, ``node_id`` (and ``pos``) are cut and
            ``edge_index`` re-indexed (a true subgraph); ``masking`` — zero their features, keep the topology
            and set ``data.visible`` ``(V',)`` bool (with ``append_visibility``, also as a last feature
            column); ``imputation`` — replace their features by ``mean_face[landmark]``.
        mean_face: ``(V, F)`` training mean features, for ``imputation``.

    Returns:
        A new ``Data``.

    Raises:
        ValueError: unknown strategy, ``imputation`` without ``mean_face``, or removal of every node.
    """
    check_strategy(strategy)
    out = data.clone()
    nid = _node_ids(data)
    occ = torch.isin(nid, torch.as_tensor(np.asarray(nodes), dtype=torch.long))
    if strategy == "removal":
        keep = ~occ
        if not keep.any():
            raise ValueError("occlude_graph: removal would delete every node")
        out.edge_index, _ = subgraph(keep, data.edge_index, relabel_nodes=True, num_nodes=data.num_nodes)
        out.x = data.x[keep]
        out.node_id = nid[keep]
        out.num_nodes = int(keep.sum())
        if getattr(data, "pos", None) is not None:
            out.pos = data.pos[keep]
        if getattr(data, "visible", None) is not None:
            out.visible = data.visible[keep]
        return out
    if strategy == "imputation":
        if mean_face is None:
            raise ValueError("occlude_graph: strategy 'imputation' needs mean_face (V, F)")
        out.x = torch.where(occ[:, None], mean_face[nid].to(data.x.dtype), data.x)
        return out
    out.x = data.x.masked_fill(occ[:, None], 0.0)
    out.visible = ~occ if getattr(data, "visible", None) is None else data.visible & ~occ
    if append_visibility:
        out.x = torch.cat([out.x, out.visible[:, None].to(out.x.dtype)], dim=1)
    return out


class Occlude(BaseTransform):
    """Occlude a named region preset (or explicit landmarks) with one strategy.

    Args:
        region: preset name of :mod:`fer_graph.occlusion.regions`, or ``None`` with ``nodes``.
        topology: ``Topology`` or its name (``ibug68``, ``mediapipe468``, ``mediapipe478``).
        strategy: ``removal``, ``masking`` or ``imputation`` (see :func:`occlude_graph`).
        nodes: explicit landmark indices instead of a region.
        mean_face: ``(V, F)`` for ``imputation``.
        append_visibility: ``masking`` also appends the visibility as a feature column.

    Raises:
        ValueError: unknown region / topology / strategy, neither ``region`` nor ``nodes``, or ``nodes``
            outside the topology (e.g. MediaPipe indices on a 68-point graph).
    """

    def __init__(self, region: str | None, topology: Topology | str, strategy: str = "removal", *,
                 nodes: Sequence[int] | None = None, mean_face: Tensor | None = None,
                 append_visibility: bool = False) -> None:
        self.topology = get_topology(topology) if isinstance(topology, str) else topology
        if (region is None) == (nodes is None):
            raise ValueError("Occlude: give exactly one of region and nodes")
        self.region = region
        self.nodes = get_region(region, self.topology) if region is not None else np.asarray(nodes, dtype=np.int64)
        if self.nodes.size and (self.nodes.min() < 0 or self.nodes.max() >= self.topology.num_nodes):
            raise ValueError(f"Occlude: landmark indices {self.nodes.min()}..{self.nodes.max()} do not fit "
                             f"{self.topology.name} ({self.topology.num_nodes} landmarks); a region of another topology?")
        self.strategy = check_strategy(strategy)
        self.mean_face, self.append_visibility = mean_face, append_visibility

    def forward(self, data: Data) -> Data:
        return occlude_graph(data, self.nodes, self.strategy, mean_face=self.mean_face,
                             append_visibility=self.append_visibility)

    def __repr__(self) -> str:
        what = self.region if self.region is not None else f"{len(self.nodes)} nodes"
        return f"{self.__class__.__name__}({what!r}, {self.topology.name}, strategy={self.strategy!r})"


class _RandomOcclusion(BaseTransform):
    def __init__(self, topology: Topology | str, extent: float, strategy: str, seed: int | None,
                 mean_face: Tensor | None, append_visibility: bool) -> None:
        self.topology = get_topology(topology) if isinstance(topology, str) else topology
        self.extent, self.strategy = float(extent), check_strategy(strategy)
        self.rng = np.random.default_rng(seed)
        self.mean_face, self.append_visibility = mean_face, append_visibility

    def _mask(self) -> np.ndarray:
        raise NotImplementedError

    def forward(self, data: Data) -> Data:
        nodes = np.flatnonzero(self._mask())
        return occlude_graph(data, nodes, self.strategy, mean_face=self.mean_face,
                             append_visibility=self.append_visibility)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(extent={self.extent}, {self.topology.name}, strategy={self.strategy!r})"


class RandomPatchOcclusion(_RandomOcclusion):
    """Occlude a contiguous patch of ``round(extent * V)`` landmarks grown by breadth-first search over
    the mesh from a random seed landmark (:func:`fer_graph.occlusion.masks.patch_masks`); a new patch per
    call, reproducible from ``seed``."""

    def __init__(self, topology: Topology | str, extent: float, strategy: str = "removal", *, seed: int | None = 0,
                 mean_face: Tensor | None = None, append_visibility: bool = False) -> None:
        super().__init__(topology, extent, strategy, seed, mean_face, append_visibility)

    def _mask(self) -> np.ndarray:
        return patch_masks(self.topology, self.extent, 1, self.rng)[0]


class RandomNodeDropout(_RandomOcclusion):
    """Occlude ``round(extent * V)`` landmarks drawn uniformly at random (a new draw per call)."""

    def __init__(self, topology: Topology | str, extent: float, strategy: str = "removal", *, seed: int | None = 0,
                 mean_face: Tensor | None = None, append_visibility: bool = False) -> None:
        super().__init__(topology, extent, strategy, seed, mean_face, append_visibility)

    def _mask(self) -> np.ndarray:
        return random_masks(self.topology.num_nodes, self.extent, 1, self.rng)[0]


class LandmarkNoise(BaseTransform):
    """Gaussian landmark displacement with standard deviation ``sigma`` in IOD units, added to every
    ``dims``-wide feature token alike (coordinates and displacement move together), on all landmarks or on
    a region.

    Args:
        sigma: IOD units (>= 0).
        dims: coordinates per feature token (2 or 3).
        region: restrict to a preset (needs ``topology``), ``None`` = all landmarks.
        topology: for ``region``.
        seed: seeds a generator; each call draws new noise.

    Raises:
        ValueError: negative sigma, or ``region`` without ``topology``.
    """

    def __init__(self, sigma: float, *, dims: int = 2, region: str | None = None,
                 topology: Topology | str | None = None, seed: int | None = 0) -> None:
        if sigma < 0:
            raise ValueError(f"LandmarkNoise: sigma={sigma} must be >= 0 (IOD units)")
        if region is not None and topology is None:
            raise ValueError("LandmarkNoise: a region needs the topology")
        self.sigma, self.dims, self.region = float(sigma), dims, region
        topo = get_topology(topology) if isinstance(topology, str) else topology
        self.nodes = None if region is None else torch.as_tensor(get_region(region, topo))
        self.gen = torch_generator(seed)

    def forward(self, data: Data) -> Data:
        out = data.clone()
        nodes = None if self.nodes is None else torch.isin(_node_ids(data), self.nodes).nonzero().view(-1)
        out.x = landmark_noise(data.x[None], self.sigma, dims=self.dims, nodes=nodes, seed=self.gen)[0]
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(sigma={self.sigma}, region={self.region!r})"
