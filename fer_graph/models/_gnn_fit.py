"""The GNN training loop on fixed-topology data (dense ``(G, V, F)`` features): AdamW, cosine decay, early
stopping on an inner validation split, augmentation, random occlusion, mixup and an optional exponential
moving average of the weights (Polyak averaging; ``torch.optim.swa_utils``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .._random import check_rng, seeded_call, torch_generator
from ..config import TrainConfig
from ..graphs.augment import attribute_mirror, mirror, mirror_attributes, random_augment, random_flip
from ..graphs.batching import FixedTopologyBatcher
from ..graphs.topology import Topology
from .registry import get_model

__all__ = ["EpochLog", "fit_module", "module_proba", "mirrored_proba"]


@dataclass
class EpochLog:
    """One epoch of training: mean training loss, validation loss and accuracy (NaN without validation)."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float


def class_weights(y: np.ndarray, num_classes: int) -> Tensor:
    """``(C,)`` inverse-frequency weights ``n / (C * count)`` (scikit-learn ``compute_class_weight``), 0 for
    classes absent from ``y``."""
    from sklearn.utils.class_weight import compute_class_weight  # training only: prediction skips scikit-learn

    present = np.unique(y)
    w = np.zeros(num_classes)
    w[present] = compute_class_weight("balanced", classes=present, y=y) * len(present) / num_classes
    return torch.tensor(w, dtype=torch.float32)


def _epoch_order(y: np.ndarray, balance: str, gen: torch.Generator) -> Tensor:
    n = len(y)
    if balance != "oversample":
        return torch.randperm(n, generator=gen)
    weights = torch.tensor(1.0 / np.bincount(y)[y], dtype=torch.float64)
    return torch.multinomial(weights, n, replacement=True, generator=gen)


def _batcher(model: torch.nn.Module, topology: Topology) -> FixedTopologyBatcher | None:
    return None if getattr(model, "backend", "pyg") == "fast" else FixedTopologyBatcher(topology.edge_index,
                                                                                         topology.num_nodes)


def _logits(model: torch.nn.Module, xb: Tensor, ga: Tensor | None, topology: Topology,
            batcher: FixedTopologyBatcher | None, *, mask: Tensor | None = None,
            visible: Tensor | None = None) -> Tensor:
    """Logits of dense ``xb`` ``(B, V, F)``: as is for the dense model, else flattened through ``batcher``."""
    if batcher is None:
        return model(xb, topology.edge_index, graph_attr=ga, mask=mask, visible=visible)
    if mask is not None or visible is not None:
        raise ValueError("node masks and visibility need the fast backend (--backend fast)")
    flat, ei, batch, node_id = batcher(xb)
    return model(flat, ei, batch, node_id, ga, num_graphs=len(xb))


@torch.no_grad()
def module_proba(model: torch.nn.Module, x: Tensor, graph_attr: Tensor | None, topology: Topology,
                 *, batch_size: int = 256, mask: Tensor | None = None, visible: Tensor | None = None) -> Tensor:
    """Class probabilities ``(G, C)`` of a graph module for dense features ``x`` ``(G, V, F)`` (eval mode).

    ``mask`` ``(G, V)`` bool (True = node present; absent nodes are removed) and ``visible`` ``(G, V)`` bool
    (unseen landmarks, for models with a visibility input) need the dense (fast) model.
    """
    model.eval()
    batcher = _batcher(model, topology)
    out = []
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        logits = _logits(model, x[sl], None if graph_attr is None else graph_attr[sl], topology, batcher,
                         mask=None if mask is None else mask[sl], visible=None if visible is None else visible[sl])
        out.append(torch.softmax(logits, dim=-1))
    return torch.cat(out) if out else torch.zeros(0, getattr(model, "num_classes", 0))


def mirrored_proba(model: torch.nn.Module, x: Tensor, graph_attr: Tensor | None, topology: Topology, *,
                   mirror_dims: int = 0, attr_mirror: tuple[Tensor, Tensor] | None = None,
                   mask: Tensor | None = None, visible: Tensor | None = None) -> Tensor:
    """:func:`module_proba`, or with ``mirror_dims`` (the coordinate dims, 2 or 3) mirror test-time
    augmentation: the mean over each face and its mirror image (landmarks permuted with ``topology.mirror``
    and x negated; graph attributes mirrored with ``attr_mirror`` of
    :func:`fer_graph.graphs.augment.attribute_mirror`, unchanged when it is None).

    Shapes: as :func:`module_proba`; returns ``(G, C)``.
    """
    plain = module_proba(model, x, graph_attr, topology, mask=mask, visible=visible)
    if not mirror_dims:
        return plain
    perm = torch.as_tensor(topology.mirror, dtype=torch.long)
    flipped = graph_attr
    if graph_attr is not None and attr_mirror is not None:
        flipped = mirror_attributes(graph_attr, torch.ones(len(graph_attr), dtype=torch.bool), *attr_mirror)
    return (plain + module_proba(model, mirror(x, perm, mirror_dims), flipped, topology,
                                 mask=None if mask is None else mask[:, perm],
                                 visible=None if visible is None else visible[:, perm])) / 2


@dataclass
class _Loop:
    """What one epoch needs: the model, optimiser, data and the random streams."""

    model: torch.nn.Module
    opt: torch.optim.Optimizer
    config: TrainConfig
    topology: Topology
    batcher: FixedTopologyBatcher | None
    x: Tensor
    graph_attr: Tensor | None
    y: Tensor
    weight: Tensor | None
    dims: int
    gen: torch.Generator
    mask_rng: np.random.Generator
    mirror: Tensor
    attr_mirror: tuple[Tensor, Tensor] | None = None
    ema: AveragedModel | None = None
    mix_rng: np.random.Generator | None = None

    @property
    def evaluated(self) -> torch.nn.Module:
        """The module validated and kept: the weight average when there is one, else the trained module."""
        return self.model if self.ema is None else self.ema.module


def _occlusion_batch(loop: _Loop, n: int) -> tuple[Tensor | None, Tensor | None]:
    """Random occlusion of ``n`` training graphs: ``(present, visible)`` masks, half removal, half masking."""
    from ..occlusion.augment import random_occlusion

    occ = torch.from_numpy(random_occlusion(loop.topology, n, loop.config.mask_augment, loop.mask_rng))
    removed = occ & torch.from_numpy(loop.mask_rng.random(n) < 0.5)[:, None]
    # the model zeroes unseen landmarks itself (in standardized space) and ignores removed ones
    return (~removed if removed.any() else None), ~occ


def _loss(loop: _Loop, logits: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(logits, y, weight=loop.weight, label_smoothing=loop.config.label_smoothing)


def _mixup(loop: _Loop, xb: Tensor, ga: Tensor | None) -> tuple[Tensor, Tensor | None, Tensor | None, float]:
    """Mixup (Zhang et al., ICLR 2018) of a batch with a shuffled copy of itself: node features and graph
    attributes mixed with ``lam ~ Beta(a, a)``; returns ``(xb, ga, partner order or None, lam)``."""
    a = loop.config.mixup
    if not a or len(xb) < 2:
        return xb, ga, None, 1.0
    lam = float(loop.mix_rng.beta(a, a))
    partner = torch.from_numpy(loop.mix_rng.permutation(len(xb)))
    mixed = None if ga is None else lam * ga + (1 - lam) * ga[partner]
    return lam * xb + (1 - lam) * xb[partner], mixed, partner, lam


def _train_epoch(loop: _Loop, train_idx: Tensor, y_train: np.ndarray) -> float:
    """One pass over the training graphs; returns the mean training loss."""
    cfg, model = loop.config, loop.model
    model.train()
    order = train_idx[_epoch_order(y_train, cfg.balance, loop.gen)]
    total, count = 0.0, 0
    for start in range(0, len(order), cfg.batch_size):
        idx = order[start:start + cfg.batch_size]
        if len(idx) < 2 and cfg.norm == "batch":
            continue
        xb = loop.x[idx]
        ga = loop.graph_attr[idx] if loop.graph_attr is not None else None
        if cfg.augment:
            flip = random_flip(len(idx), cfg.p_mirror, loop.gen)
            xb = random_augment(xb, perm=loop.mirror, dims=loop.dims, generator=loop.gen, p_mirror=cfg.p_mirror,
                                rotate_deg=cfg.rotate_deg, scale=cfg.scale, noise=cfg.noise, flip=flip)
            if ga is not None and loop.attr_mirror is not None and flip.any():
                ga = mirror_attributes(ga, flip, *loop.attr_mirror)
        present, visible = _occlusion_batch(loop, len(idx)) if cfg.mask_augment else (None, None)
        xb, ga, partner, lam = _mixup(loop, xb, ga)
        logits = _logits(model, xb, ga, loop.topology, loop.batcher, mask=present, visible=visible)
        loss = _loss(loop, logits, loop.y[idx])
        if partner is not None:
            loss = lam * loss + (1 - lam) * _loss(loop, logits, loop.y[idx][partner])
        loop.opt.zero_grad(set_to_none=True)
        loss.backward()
        loop.opt.step()
        if loop.ema is not None:
            loop.ema.update_parameters(model)
        total += float(loss.detach()) * len(idx)
        count += len(idx)
    return total / max(count, 1)


def _validate(loop: _Loop, val_idx: np.ndarray) -> tuple[float, float]:
    """``(loss, accuracy)`` on the validation graphs, NaN without any."""
    if not len(val_idx):
        return float("nan"), float("nan")
    ga = loop.graph_attr[val_idx] if loop.graph_attr is not None else None
    probs = mirrored_proba(loop.evaluated, loop.x[val_idx], ga, loop.topology, attr_mirror=loop.attr_mirror,
                           mirror_dims=loop.dims if loop.config.mirror_tta else 0)
    y_val = loop.y[val_idx]
    return float(F.nll_loss(torch.log(probs.clamp_min(1e-9)), y_val)), float((probs.argmax(1) == y_val).float().mean())


def _new_loop(x: Tensor, graph_attr: Tensor | None, y: np.ndarray, train_idx: np.ndarray, *, topology: Topology,
              num_classes: int, config: TrainConfig, dims: int,
              graph_names: tuple[str, ...] = (),
              warm_start: Callable[[torch.nn.Module], object] | None = None) -> tuple[_Loop, dict, torch.Generator]:
    """Build the module (initialised from ``config.seed``, then by ``warm_start``), its standardization,
    optimiser and streams."""
    kwargs = config.model_kwargs(x.shape[-1], num_classes, 0 if graph_attr is None else graph_attr.shape[-1],
                                 topology.num_nodes, graph_names)
    init = torch_generator(config.seed)
    model = seeded_call(lambda: get_model(config.arch, **{**kwargs, "backend": config.backend}), init)
    model.set_standardization(x[train_idx], None if graph_attr is None else graph_attr[train_idx])
    if warm_start is not None:
        warm_start(model)
    # the dense model takes the fused AdamW kernel (same update rule, faster steps); PyG keeps the default
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                            fused=True if config.backend == "fast" else None)
    weight = class_weights(y[train_idx], num_classes) if config.balance == "weighted" else None
    loop = _Loop(model, opt, config, topology, _batcher(model, topology), x, graph_attr,
                 torch.as_tensor(y, dtype=torch.long), weight, dims, torch_generator(config.seed),
                 check_rng(config.seed), torch.as_tensor(topology.mirror, dtype=torch.long),
                 attribute_mirror(graph_names) if graph_attr is not None else None,
                 AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=True)
                 if config.ema else None, np.random.default_rng([config.seed, 1]))
    return loop, kwargs, init


def fit_module(x: Tensor, graph_attr: Tensor | None, y: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
               *, topology: Topology, num_classes: int, config: TrainConfig, dims: int,
               graph_names: tuple[str, ...] = (), on_epoch: Callable[[EpochLog], None] | None = None,
               warm_start: Callable[[torch.nn.Module], object] | None = None
               ) -> tuple[torch.nn.Module, list[EpochLog], dict]:
    """Train a registered GNN on ``train_idx``, early-stopping on ``val_idx`` (``config.keep="best"``) or
    for the whole schedule (``"last"``; ``val_idx`` only measured).

    Args:
        x: ``(G, V, F)`` float32 node features; graph_attr: ``(G, A)`` float32 or ``None``.
        y: ``(G,)`` int class indices; train_idx, val_idx: disjoint index arrays into them.
        topology: the shared topology (edges, mirror permutation); num_classes: C.
        config: hyper-parameters (its seed gives initialisation, dropout, batching and augmentation).
        dims: coordinate dims per feature token (2 or 3), for augmentation.
        graph_names: names of the graph-attribute columns; named blendshapes and head pose are mirrored
            with the landmarks (:func:`fer_graph.graphs.augment.attribute_mirror`).
        on_epoch: called after every epoch.
        warm_start: called with the new module after its initialisation and standardization, to overwrite
            weights (fine-tuning: :func:`fer_graph.models.transfer.transfer_weights`).

    Returns:
        ``(module at its best validation epoch or its last, in eval mode; epoch logs; builder kwargs)``.

    Raises:
        ValueError: ``mask_augment`` with the PyG backend.
    """
    if config.mask_augment and config.backend != "fast":
        raise ValueError(f"--mask-augment needs the fast backend (node masks); got backend {config.backend!r}")
    loop, kwargs, init = _new_loop(x, graph_attr, y, train_idx, topology=topology, num_classes=num_classes,
                             config=config, dims=dims, graph_names=graph_names, warm_start=warm_start)
    # dropout (torch's and PyG's functional dropout, the fused kernels' seeds) draws from torch's default
    # generator: the loop runs in a scoped copy of it that continues the initialisation's stream
    logs = seeded_call(lambda: _run_epochs(loop, train_idx, val_idx, y, on_epoch), init)
    return loop.model, logs, kwargs


def _run_epochs(loop: _Loop, train_idx: np.ndarray, val_idx: np.ndarray, y: np.ndarray,
                on_epoch: Callable[[EpochLog], None] | None) -> list[EpochLog]:
    """Epochs with cosine decay and early stopping; leaves the best epoch's weights (of the weight average,
    with ``config.ema``) in the model, or the last epoch's with ``config.keep="last"`` (no early stopping)."""
    cfg = loop.config
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(loop.opt, T_max=max(cfg.epochs, 1))
    tr = torch.as_tensor(train_idx, dtype=torch.long)
    best, best_state, stale, logs = (-1.0, float("inf")), copy.deepcopy(loop.evaluated.state_dict()), 0, []
    for epoch in range(1, cfg.epochs + 1):
        train_loss = _train_epoch(loop, tr, y[train_idx])
        sched.step()
        val_loss, val_acc = _validate(loop, val_idx)
        logs.append(EpochLog(epoch, train_loss, val_loss, val_acc))
        if on_epoch is not None:
            on_epoch(logs[-1])
        if cfg.keep == "last":
            continue
        if not len(val_idx) or (val_acc, -val_loss) > (best[0], -best[1]):
            best, best_state, stale = (val_acc, val_loss), copy.deepcopy(loop.evaluated.state_dict()), 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    loop.model.load_state_dict(loop.evaluated.state_dict() if cfg.keep == "last" else best_state)
    loop.model.eval()
    return logs
