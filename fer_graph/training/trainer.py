"""Fit and apply one graph classifier on fixed-topology data (dense ``(G, V, F)`` features)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..graphs.augment import random_augment
from ..graphs.batching import FixedTopologyBatcher
from ..graphs.topology import Topology
from ..models import get_model

__all__ = ["TrainConfig", "EpochLog", "fit_gnn", "predict_proba"]


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run (stored in ``config.json``).

    Attributes:
        arch: registered model name (``gat``, ``gcn``, ``svm``...).
        features: feature spec (:class:`fer_graph.graphs.features.FeatureSpec`); ``None`` = dataset default.
        epochs: maximum epochs; the checkpoint kept is the one with the best inner-validation accuracy
            (ties: lower validation loss).
        patience: stop after this many epochs without validation improvement.
        batch_size, lr, weight_decay: AdamW optimisation (cosine learning-rate decay over ``epochs``).
        hidden, layers, heads, dropout, node_embedding, readout, norm: model size (see GraphClassifier).
        balance: ``none``, ``weighted`` (inverse-frequency class weights in the loss / sklearn
            ``class_weight="balanced"``) or ``oversample`` (sample classes uniformly).
        augment: random mirror, rotation, scale and noise during training.
        rotate_deg, scale, noise, p_mirror: augmentation strengths (IOD units for noise).
        label_smoothing: cross-entropy label smoothing.
        folds: k of the subject-independent k-fold protocol.
        val_fraction: share of training subjects held out as inner validation.
        labels, exclude: label scheme and excluded classes (:func:`fer_graph.labels.apply_label_scheme`).
        seed: seeds folds, initialisation, batching and augmentation.
        standardize: ``"node"`` (default: mean/std per landmark and channel from the training data, so
            features become deviations from the training mean face) or ``"channel"`` (one mean/std per feature
            channel over all landmarks). Per-channel statistics let the mean-face layout (std ≈ 0.5 IOD) swamp
            expression deviations (≈ 0.02–0.05 IOD); measured GAT 10-fold accuracy, channel -> node: CK+
            lands apex+disp 0.916 -> 0.941, apex 0.825 -> 0.891, disp 0.924 -> 0.918; CK+48 0.450 -> 0.861;
            FER-2013 0.251 -> 0.526 (README).
        backend: ``"pyg"`` (PyG convolutions on flat batches) or ``"fast"`` (dense fixed-topology layers of
            :mod:`fer_graph.models.fast` and fused AdamW; same weights; on 468-node graphs about 2x faster
            training and 2.5-5x faster inference on CPU, ``experiments/bench_speed.py``). Not stored in the
            checkpoint's model kwargs: either backend loads the weights.
        mask_augment: probability that a training graph is occluded (a random region preset, BFS patch or
            node dropout, :func:`fer_graph.occlusion.augment.random_occlusion`), half of them by node removal
            and half by feature masking; > 0 gives the model a visibility input. Fast backend only.
    """

    arch: str = "gat"
    features: str | None = None
    epochs: int = 150
    patience: int = 50
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    hidden: int = 64
    layers: int = 3
    heads: int = 4
    dropout: float = 0.2
    node_embedding: int = 16
    readout: str = "flatten"
    norm: str = "layer"
    balance: str = "none"
    augment: bool = True
    rotate_deg: float = 10.0
    scale: float = 0.05
    noise: float = 0.02
    p_mirror: float = 0.5
    label_smoothing: float = 0.1
    folds: int = 10
    val_fraction: float = 0.15
    labels: str = "native"
    exclude: tuple[str, ...] = ()
    seed: int = 0
    backend: str = "fast"
    standardize: str = "node"
    mask_augment: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["exclude"] = list(self.exclude)
        return d

    def model_kwargs(self, in_channels: int, num_classes: int, graph_channels: int, num_nodes: int) -> dict[str, Any]:
        return {"in_channels": in_channels, "num_classes": num_classes, "hidden_channels": self.hidden,
                "num_layers": self.layers, "heads": self.heads, "dropout": self.dropout,
                "node_embedding": self.node_embedding, "num_nodes": num_nodes, "readout": self.readout,
                "norm": self.norm, "graph_channels": graph_channels, "standardize": self.standardize,
                **({"visibility": True} if self.mask_augment > 0 else {}), **self.extra}


@dataclass
class EpochLog:
    """One epoch of training: mean training loss, validation loss and accuracy."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float


def _class_weights(y: np.ndarray, num_classes: int) -> Tensor:
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, len(y) / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def _epoch_order(y: np.ndarray, balance: str, gen: torch.Generator) -> Tensor:
    n = len(y)
    if balance != "oversample":
        return torch.randperm(n, generator=gen)
    counts = np.bincount(y)
    weights = torch.tensor(1.0 / counts[y], dtype=torch.float64)
    return torch.multinomial(weights, n, replacement=True, generator=gen)


def _logits(model: torch.nn.Module, xb: Tensor, ga: Tensor | None, topology: Topology,
            batcher: FixedTopologyBatcher | None, *, mask: Tensor | None = None,
            visible: Tensor | None = None) -> Tensor:
    """Logits of dense ``xb`` ``(B, V, F)``: as is for the fast backend, else through ``batcher``."""
    if batcher is None:
        return model(xb, topology.edge_index, graph_attr=ga, mask=mask, visible=visible)
    if mask is not None or visible is not None:
        raise ValueError("node masks and visibility need the fast backend (--backend fast)")
    flat, ei, batch, node_id = batcher(xb)
    return model(flat, ei, batch, node_id, ga, num_graphs=len(xb))


def _batcher(model: torch.nn.Module, topology: Topology) -> FixedTopologyBatcher | None:
    if getattr(model, "backend", "pyg") == "fast":
        return None
    return FixedTopologyBatcher(topology.edge_index, topology.num_nodes)


@torch.no_grad()
def predict_proba(model: torch.nn.Module, x: Tensor, graph_attr: Tensor | None, topology: Topology,
                  *, batch_size: int = 256, mask: Tensor | None = None, visible: Tensor | None = None) -> Tensor:
    """Class probabilities ``(G, C)`` for dense features ``x`` ``(G, V, F)`` (eval mode, no grad).

    ``mask`` ``(G, V)`` bool (True = node present; absent nodes are removed) and ``visible`` ``(G, V)`` bool
    (the visibility input of models built with one) need the fast backend.
    """
    model.eval()
    batcher = _batcher(model, topology)
    out = []
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        ga = graph_attr[sl] if graph_attr is not None else None
        logits = _logits(model, x[sl], ga, topology, batcher, mask=None if mask is None else mask[sl],
                         visible=None if visible is None else visible[sl])
        out.append(torch.softmax(logits, dim=-1))
    return torch.cat(out) if out else torch.zeros(0, getattr(model, "num_classes", 0))


def fit_gnn(x: Tensor, graph_attr: Tensor | None, y: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
            *, topology: Topology, num_classes: int, config: TrainConfig, dims: int,
            on_epoch: Callable[[EpochLog], None] | None = None) -> tuple[torch.nn.Module, list[EpochLog], dict]:
    """Train a registered GNN on ``train_idx``, early-stopping on ``val_idx``.

    Args:
        x: ``(G, V, F)`` float32 node features of the whole dataset.
        graph_attr: ``(G, A)`` float32 graph attributes or ``None``.
        y: ``(G,)`` int class indices.
        train_idx, val_idx: disjoint index arrays (validation subjects never in training).
        topology: the shared topology (edges, mirror permutation).
        num_classes: C.
        config: hyper-parameters.
        dims: coordinate dims per feature token (2 or 3), for augmentation.
        on_epoch: called after every epoch (progress bars, logging).

    Returns:
        ``(model at its best validation epoch, epoch logs, model kwargs)``.
    """
    if config.mask_augment and config.backend != "fast":
        raise ValueError("--mask-augment needs the fast backend (node masks); got backend "
                         f"{config.backend!r}")
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    mask_rng = np.random.default_rng(config.seed)
    if config.mask_augment:
        from ..occlusion.augment import random_occlusion
    kwargs = config.model_kwargs(x.shape[-1], num_classes, 0 if graph_attr is None else graph_attr.shape[-1],
                                 topology.num_nodes)
    model = get_model(config.arch, **{**kwargs, "backend": config.backend})
    model.set_standardization(x[train_idx], None if graph_attr is None else graph_attr[train_idx])
    # the fast backend also takes the fused AdamW kernel (same update rule, ~3x faster steps than the default
    # foreach one on these models); the PyG path keeps the default so its runs stay bit-identical to before
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                            fused=True if config.backend == "fast" else None)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(config.epochs, 1))
    weight = _class_weights(y[train_idx], num_classes) if config.balance == "weighted" else None
    batcher = _batcher(model, topology)
    perm = torch.as_tensor(topology.mirror, dtype=torch.long)
    y_t = torch.as_tensor(y, dtype=torch.long)
    tr = torch.as_tensor(train_idx, dtype=torch.long)
    x_val, y_val = x[val_idx], y_t[val_idx]
    ga_val = graph_attr[val_idx] if graph_attr is not None else None

    best = (-1.0, float("inf"))
    best_state = copy.deepcopy(model.state_dict())
    logs: list[EpochLog] = []
    stale = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = tr[_epoch_order(y[train_idx], config.balance, gen)]
        total, count = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            if len(idx) < 2 and config.norm == "batch":
                continue
            xb = x[idx]
            if config.augment:
                xb = random_augment(xb, perm=perm, dims=dims, generator=gen, p_mirror=config.p_mirror,
                                    rotate_deg=config.rotate_deg, scale=config.scale, noise=config.noise)
            ga = graph_attr[idx] if graph_attr is not None else None
            present = visible = None
            if config.mask_augment:
                occ = torch.from_numpy(random_occlusion(topology, len(idx), config.mask_augment, mask_rng))
                removed = occ & torch.from_numpy(mask_rng.random(len(idx)) < 0.5)[:, None]
                # the model zeroes unseen landmarks itself (in standardized space) and ignores removed ones
                present, visible = (~removed if removed.any() else None), ~occ
            logits = _logits(model, xb, ga, topology, batcher, mask=present, visible=visible)
            loss = F.cross_entropy(logits, y_t[idx], weight=weight, label_smoothing=config.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        sched.step()
        if len(val_idx):
            probs = predict_proba(model, x_val, ga_val, topology)
            val_loss = float(F.nll_loss(torch.log(probs.clamp_min(1e-9)), y_val))
            val_acc = float((probs.argmax(1) == y_val).float().mean())
        else:
            val_loss, val_acc = float("nan"), float("nan")
        log = EpochLog(epoch, total / max(count, 1), val_loss, val_acc)
        logs.append(log)
        if on_epoch is not None:
            on_epoch(log)
        if not len(val_idx) or (val_acc, -val_loss) > (best[0], -best[1]):
            best = (val_acc, val_loss)
            best_state = copy.deepcopy(model.state_dict())
            stale = 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return model, logs, kwargs
