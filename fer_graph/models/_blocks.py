"""Parts shared by the graph classifiers of :mod:`fer_graph.models.gnn`: argument checks, the parameters and
their layout, input standardization, the input stage and the MLP head.

:class:`ClassifierBase` builds every module of a classifier; a subclass names its convolution classes
(``CONVS``) and writes its own ``forward`` and graph readout. Module names and creation order are the same
for every subclass, so ``state_dict`` keys and seeded initial weights agree between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.aggr import AttentionalAggregation

__all__ = ["ClassifierBase", "NORMS", "READOUTS", "CONVS", "dropout"]

NORMS = ("none", "layer", "batch")
READOUTS = ("mean+max", "mean", "attention", "mean+max+attention", "flatten", "mean+max+flatten")
CONVS = ("gcn", "gat", "gatv2")


def dropout(x: Tensor, p: float, training: bool, generator: torch.Generator | None = None) -> Tensor:
    """:func:`torch.nn.functional.dropout` on CPU, drawing from ``generator`` when one is given.

    With a generator it runs the ops of torch's CPU dropout (a Bernoulli ``1 - p`` mask divided by ``1 - p``,
    times ``x``) with that generator, so a generator in the default generator's state gives the same result.

    Shapes:
        x: any shape. Returns the same shape.

    Raises:
        ValueError: ``p`` outside ``[0, 1]``.
    """
    if generator is None:
        return F.dropout(x, p, training)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p={p}; expected a probability in [0, 1]")
    if p == 0 or not training or x.numel() == 0:
        return x
    if p == 1:
        return x * torch.zeros((), dtype=x.dtype)
    noise = torch.empty_like(x).bernoulli_(1 - p, generator=generator)
    return x * noise.div_(1 - p)


def _check_args(name: str, conv: str, hidden_channels: int, heads: int, norm: str, readout: str,
                num_nodes: int | None, node_embedding: int, standardize: str) -> None:
    """Raises ValueError naming class ``name`` for an unknown option or a missing ``num_nodes``."""
    if conv not in CONVS:
        raise ValueError(f"{name}: conv={conv!r}; expected 'gcn', 'gat' or 'gatv2'")
    if norm not in NORMS:
        raise ValueError(f"{name}: norm={norm!r}; expected one of {NORMS}")
    if readout not in READOUTS:
        raise ValueError(f"{name}: readout={readout!r}; expected one of {READOUTS}")
    if (node_embedding or "flatten" in readout) and not num_nodes:
        raise ValueError(f"{name}: node_embedding and the flatten readout need num_nodes")
    if conv != "gcn" and hidden_channels % heads:
        raise ValueError(f"{name}: hidden_channels={hidden_channels} not divisible by heads={heads}")
    if standardize not in ("channel", "node"):
        raise ValueError(f"{name}: standardize={standardize!r}; expected 'channel' or 'node'")
    if standardize == "node" and not num_nodes:
        raise ValueError(f"{name}: standardize='node' needs num_nodes")


class ClassifierBase(nn.Module):
    """Embedding -> L conv blocks -> graph readout -> MLP head: the modules, buffers and shared steps.

    Arguments are those of :class:`fer_graph.models.gnn.GraphClassifier`. Subclasses set ``CONVS`` (conv
    name -> layer class taking PyG's arguments) and ``backend``, and implement ``forward``.

    Attributes:
        generator: source of the dropout randomness in training mode; ``None`` (the default) draws from
            torch's default generator. Not a buffer: never in ``state_dict``.

    Raises:
        ValueError: unknown ``conv``/``norm``/``readout``/``standardize``, ``hidden_channels`` not divisible by
            ``heads`` (GAT), or ``node_embedding``, the flatten readout or ``standardize="node"`` without
            ``num_nodes``.
    """

    CONVS: ClassVar[dict[str, type[nn.Module]]] = {}
    backend: ClassVar[str] = ""
    generator: torch.Generator | None = None

    def __init__(self, in_channels: int, num_classes: int, *, conv: str = "gat", hidden_channels: int = 64,
                 num_layers: int = 3, heads: int = 4, dropout: float = 0.3, residual: bool = True,
                 norm: str = "layer", readout: str = "mean+max", graph_channels: int = 0,
                 num_nodes: int | None = None, node_embedding: int = 0, standardize: str = "channel",
                 visibility: bool = False, graph_hidden: int = 0, graph_asinh: float = 0.0,
                 occluded_attrs: float = 0.0, attr_regions: Sequence[str] | None = None) -> None:
        super().__init__()
        _check_args(type(self).__name__, conv, hidden_channels, heads, norm, readout, num_nodes, node_embedding,
                    standardize)
        self.in_channels, self.num_classes, self.conv_type = in_channels, num_classes, conv
        self.hidden_channels, self.num_layers, self.heads = hidden_channels, num_layers, heads
        self.dropout, self.residual, self.norm_type, self.readout = dropout, residual, norm, readout
        self.graph_channels, self.num_nodes, self.node_embedding_dim = graph_channels, num_nodes, node_embedding
        self.standardize, self.visibility = standardize, visibility
        self.graph_hidden = graph_hidden if graph_channels else 0
        self.graph_asinh = float(graph_asinh)
        if not 0.0 <= occluded_attrs <= 1.0:
            raise ValueError(f"{type(self).__name__}: occluded_attrs={occluded_attrs} outside [0, 1]")
        self.occluded_attrs = float(occluded_attrs)
        self.attr_regions = None if attr_regions is None else tuple(attr_regions)
        shape = (num_nodes, in_channels) if standardize == "node" else (in_channels,)
        self.register_buffer("x_mean", torch.zeros(shape))
        self.register_buffer("x_std", torch.ones(shape))
        self.register_buffer("g_mean", torch.zeros(graph_channels))
        self.register_buffer("g_std", torch.ones(graph_channels))
        self.node_embedding = nn.Embedding(num_nodes, node_embedding) if node_embedding else None
        self.input = nn.Linear(in_channels + node_embedding + int(visibility), hidden_channels)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for _ in range(num_layers):
            cls = self.CONVS[conv]
            self.convs.append(cls(hidden_channels, hidden_channels) if conv == "gcn" else
                              cls(hidden_channels, hidden_channels // heads, heads=heads, dropout=dropout))
            self.norms.append(nn.LayerNorm(hidden_channels) if norm == "layer"
                              else nn.BatchNorm1d(hidden_channels) if norm == "batch" else nn.Identity())
        self.attention = (AttentionalAggregation(nn.Linear(hidden_channels, 1))
                          if "attention" in readout else None)
        self.flatten = (nn.Sequential(nn.Dropout(dropout), nn.Linear(num_nodes * hidden_channels, hidden_channels))
                        if "flatten" in readout else None)
        pooled = hidden_channels * len(readout.split("+"))
        self.head = nn.Sequential(
            nn.Linear(pooled + (self.graph_hidden or graph_channels), hidden_channels), nn.ELU(), nn.Dropout(dropout),
            nn.Linear(hidden_channels, num_classes),
        )
        # registered last: the state_dict keys of the other modules keep their order
        self.graph_mlp = (nn.Sequential(nn.Linear(graph_channels, self.graph_hidden), nn.ELU(),
                                        nn.Linear(self.graph_hidden, self.graph_hidden), nn.ELU())
                          if self.graph_hidden else None)
        # (A, V) node weights of each attribute's region, rows summing to 1; derived from the kwargs, so not saved
        self.register_buffer("attr_nodes", _region_weights(self.attr_regions, graph_channels, num_nodes),
                             persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialize every submodule's parameters (the standardization buffers are kept)."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    @torch.no_grad()
    def set_standardization(self, x: Tensor, graph_attr: Tensor | None = None) -> None:
        """Store mean and std of training features: per channel, or with ``standardize="node"`` per landmark
        and channel (node features become the deviation from the training mean face, in units of each
        landmark's spread). Graph attributes are standardized per channel.

        Shapes:
            x: ``(G, V, F)``; graph_attr: ``(G, A)`` or None.
        """
        flat = x.double() if self.standardize == "node" else x.reshape(-1, x.shape[-1]).double()
        self.x_mean.copy_(flat.mean(0).float())
        self.x_std.copy_(flat.std(0).clamp_min(1e-6).float())
        if graph_attr is not None and self.graph_channels:
            g = self._graph_transform(graph_attr).double()
            self.g_mean.copy_(g.mean(0).float())
            self.g_std.copy_(g.std(0).clamp_min(1e-6).float())

    def _graph_transform(self, g: Tensor) -> Tensor:
        """``asinh(g / graph_asinh)`` when ``graph_asinh > 0`` (log-like for scores far above the scale,
        linear near 0, signed: spreads the blendshape scores, most of which sit near 0), else ``g``."""
        return torch.asinh(g / self.graph_asinh) if self.graph_asinh > 0 else g

    def _embed(self, h: Tensor, visible: Tensor | None, identity: Tensor | None, seen: Tensor | None) -> Tensor:
        """The input layer on standardized features ``h``, their landmark identity vectors and visibility.

        Unseen landmarks (``visible`` False) get 0 in the standardized space, i.e. the training mean: a raw 0
        would sit far outside the data under per-landmark statistics. The visibility channel (when the model
        has one) is ``seen``, or 1 everywhere when ``seen`` is None.

        Shapes:
            h: ``(..., F)``; visible, seen: ``(..., 1)`` bool or None; identity: ``(..., node_embedding)`` or
            None. Returns ``(..., hidden_channels)``.
        """
        if visible is not None:
            h = h.masked_fill(~visible, 0.0)
        if identity is not None:
            h = torch.cat([h, identity], dim=-1)
        if self.visibility:
            col = h.new_ones(*h.shape[:-1], 1) if seen is None else seen.to(h.dtype)
            h = torch.cat([h, col], dim=-1)
        return self.input(h)

    def _attrs_dropped(self, occluded: Tensor | None) -> Tensor | None:
        """``(B, 1)`` bool (or ``(B, A)`` with ``attr_regions``): attributes whose share of occluded landmarks
        (of the face, or of the attribute's region) reaches ``occluded_attrs``, from ``occluded`` ``(B, V)``
        bool (True = occluded); None when the rule is off or nothing is occluded."""
        if not (self.occluded_attrs and self.graph_channels) or occluded is None:
            return None
        occ = occluded.float()
        share = occ @ self.attr_nodes.T if self.attr_nodes.numel() else occ.mean(1, keepdim=True)
        return share >= self.occluded_attrs

    def _classify(self, pooled: list[Tensor], graph_attr: Tensor | None,
                  generator: torch.Generator | None = None, drop_attrs: Tensor | None = None) -> Tensor:
        """The MLP head on the concatenated readouts and standardized graph attributes (through the graph
        branch ``graph_mlp`` when the model has one); its dropout draws
        from ``generator`` (None: torch's default generator, as ``nn.Dropout``). Rows of ``drop_attrs``
        (:meth:`_attrs_dropped`) get standardized attributes 0, the training mean.

        Shapes:
            pooled: ``(B, hidden_channels)`` each; graph_attr: ``(B, A)`` or None; drop_attrs: ``(B, 1)`` or
            ``(B, A)`` bool or None. Returns ``(B, C)``.

        Raises:
            ValueError: the model has graph channels and ``graph_attr`` is None.
        """
        z = torch.cat(pooled, dim=-1)
        if self.graph_channels:
            if graph_attr is None:
                raise ValueError(f"{type(self).__name__}: built with graph_channels={self.graph_channels}, "
                                 "forward needs graph_attr")
            g = (self._graph_transform(graph_attr) - self.g_mean) / self.g_std
            if drop_attrs is not None:
                g = g.masked_fill(drop_attrs, 0.0)
            z = torch.cat([z, g if self.graph_mlp is None else self.graph_mlp(g)], dim=-1)
        first, act, drop, last = self.head
        return last(dropout(act(first(z)), drop.p, drop.training, generator))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.conv_type}, in={self.in_channels}, hidden={self.hidden_channels}, "
                f"layers={self.num_layers}, classes={self.num_classes}, backend={self.backend!r})")


def _region_weights(regions: tuple[str, ...] | None, channels: int, num_nodes: int | None) -> Tensor:
    """``(A, V)`` float32: row a spreads weight 1 evenly over the landmarks of attribute a's region
    (:func:`fer_graph.occlusion.regions.attribute_region`; ``""``: every landmark); ``(0, 0)`` without regions.

    Raises:
        ValueError: ``regions`` not one per attribute, or regions without ``num_nodes``.
    """
    if regions is None:
        return torch.zeros(0, 0)
    if len(regions) != channels or not num_nodes:
        raise ValueError(f"attr_regions: {len(regions)} regions for {channels} graph attributes"
                         + ("" if num_nodes else "; needs num_nodes"))
    from ..graphs.topology import topology_for_points
    from ..occlusion.regions import get_region

    topology = topology_for_points(num_nodes, include_iris=num_nodes == 478)
    out = torch.zeros(channels, num_nodes)
    for a, region in enumerate(regions):
        nodes = torch.as_tensor(np.asarray(get_region(region, topology), dtype=np.int64)) if region else slice(None)
        out[a, nodes] = 1.0
    return out / out.sum(1, keepdim=True)
