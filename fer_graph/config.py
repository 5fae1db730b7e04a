"""Hyper-parameters of a training run: the one record shared by the model estimators and the run protocol."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

__all__ = ["TrainConfig", "Hierarchy", "ARCH_RECIPES", "GNN_RECIPES", "LARGE_DATASET_GRAPHS", "LARGE_DATASET_RECIPES", "Balance", "Standardize", "Backend", "LabelScheme", "DEFAULT_EXTENTS", "DEFAULT_NOISE",
           "STUDY_MODELS", "STUDY_MODEL_NAMES", "STUDY_MASK_AUGMENT"]

#: Occlusion sweeps: fractions of the landmarks occluded by BFS patches and random dropout.
DEFAULT_EXTENTS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
#: Occlusion sweeps: Gaussian landmark noise sigmas, in inter-ocular distances (IOD).
DEFAULT_NOISE: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2)
#: Models of the occlusion study (:mod:`fer_graph.evaluation.study`), in table order: name -> (registered
#: arch, mask-augmented?).
STUDY_MODELS: dict[str, tuple[str, bool]] = {
    "gat": ("gat", False), "gat_mask": ("gat", True), "svm": ("svm", False), "mlp": ("mlp", False),
    "logreg": ("logreg", False),
}
STUDY_MODEL_NAMES: tuple[str, ...] = tuple(STUDY_MODELS)
#: Probability that a training graph of the study's mask-augmented GAT is occluded.
STUDY_MASK_AUGMENT = 0.5


#: Face Mesh GNN recipe for small datasets (CK+48: 981 faces): width 32 (a quarter of the flatten readout),
#: 80 epochs, the 68-point recipe's augmentation and dropout otherwise; the weights after the whole schedule
#: (nothing chosen on the ~15 validation subjects), a seed ensemble of 4 with mirror test-time augmentation
#: (the best last-epoch inner validation), and final models fitted on all training subjects of each fold.
_MESH_SMALL: dict[str, Any] = {"hidden": 32, "epochs": 80, "keep": "last", "members": 4, "mirror_tta": True,
                               "refit": True}
#: Face Mesh GNN recipe for large datasets (FER-2013: 24,121 inner-training faces): the GAT under-fits
#: there, so one GAT layer, mirror augmentation only (the faces are pose-aligned; rotation, scaling and
#: landmark noise are off), no dropout; a seed ensemble of 4 members of 50 epochs each (4 members validate
#: better than 2, and 50 epochs keep the run within 45 minutes on 2 cores).
_MESH_LARGE: dict[str, Any] = {"hidden": 32, "layers": 1, "dropout": 0.0, "rotate_deg": 0.0, "scale": 0.0,
                               "noise": 0.0, "epochs": 50, "members": 4}

#: Default GNN hyper-parameters per landmark topology, over the :class:`TrainConfig` field defaults (which are
#: the 68-point recipe), for datasets of at most :data:`LARGE_DATASET_GRAPHS` graphs. Chosen on inner
#: validation; the ablation behind each is in docs/results.md.
GNN_RECIPES: dict[str, dict[str, Any]] = {"mediapipe468": _MESH_SMALL, "mediapipe478": _MESH_SMALL}
#: Datasets with more graphs than this use :data:`LARGE_DATASET_RECIPES` instead of :data:`GNN_RECIPES`.
LARGE_DATASET_GRAPHS = 10_000
#: Default GNN hyper-parameters per topology for datasets of more than :data:`LARGE_DATASET_GRAPHS` graphs.
LARGE_DATASET_RECIPES: dict[str, dict[str, Any]] = {"mediapipe468": _MESH_LARGE, "mediapipe478": _MESH_LARGE}


#: Default hyper-parameters per architecture, over the topology's recipe: the sequence model's width (its cost
#: grows with frames x width^2; 32 keeps a CK+ lands 10-fold run within minutes on 2 cores) and its readout (the
#: landmark-indexed flatten; chosen on inner validation, docs/sequences.md).
ARCH_RECIPES: dict[str, dict[str, Any]] = {"stgcn": {"hidden": 32, "readout": "flatten"}}


class Balance(str, Enum):
    """Class balancing: none, inverse-frequency loss / ``class_weight="balanced"``, oversampling, or a
    class-balanced random subset of the training graphs (undersampling; validation and test untouched)."""

    none = "none"
    weighted = "weighted"
    oversample = "oversample"
    undersample = "undersample"


class Standardize(str, Enum):
    """GNN input standardization: per landmark and channel (``node``) or per channel (``channel``)."""

    node = "node"
    channel = "channel"


class Backend(str, Enum):
    """GNN layers: dense fixed-topology layers (``fast``) or PyG convolutions on flat batches (``pyg``)."""

    fast = "fast"
    pyg = "pyg"


class Hierarchy(str, Enum):
    """Two-tier classification: none, or valence groups first (:mod:`fer_graph.models.hierarchy`)."""

    none = "none"
    valence = "valence"


class LabelScheme(str, Enum):
    """Label schemes of :func:`fer_graph.labels.apply_label_scheme`."""

    native = "native"
    basic6 = "basic6"
    valence3 = "valence3"


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run (stored in ``config.json``).

    Attributes:
        arch: registered model name (``gat``, ``gcn``, ``logreg``, ``blendshape-rf``...).
        features: feature spec (:class:`fer_graph.graphs.features.FeatureSpec`); ``None`` = dataset default.
        epochs: maximum epochs; the weights kept are those of the best inner-validation epoch
            (accuracy, ties: lower validation loss), or of the last epoch with ``keep="last"``.
        patience: stop after this many epochs without validation improvement (``keep="best"`` only).
        keep: GNNs: ``best`` (the best inner-validation epoch's weights, early stopping) or ``last`` (the
            weights after the whole schedule; validation is measured, never chosen on, so its accuracy is
            an unbiased estimate of the model kept).
        batch_size, lr, weight_decay: AdamW optimisation (cosine learning-rate decay over ``epochs``).
        hidden, layers, heads, dropout, node_embedding, readout, norm: GNN size (see the model classes).
        balance: ``none``, ``weighted``, ``oversample`` or ``undersample`` (:class:`Balance`).
        augment: random mirror, rotation, scale and noise during training.
        rotate_deg, scale, noise, p_mirror: augmentation strengths (noise in IOD units).
        label_smoothing: cross-entropy label smoothing.
        folds: k of the subject-independent k-fold protocol.
        val_fraction: share of training subjects held out as inner validation.
        hierarchy: ``none``, or ``valence``: a valence classifier, then one per valence group, probabilities
            multiplied (:class:`fer_graph.models.hierarchy.HierarchicalClassifier`).
        labels, exclude: label scheme and excluded classes (:func:`fer_graph.labels.apply_label_scheme`).
        seed: seeds folds, initialisation, batching, dropout and augmentation.
        standardize: ``node`` (deviation from the training mean face, per landmark) or ``channel``
            (:class:`Standardize`; docs/speed.md "Standardization" compares them).
        backend: ``fast`` (dense fixed-topology layers) or ``pyg`` (:class:`Backend`); same weights,
            not stored in the checkpoint's model kwargs.
        mask_augment: probability that a training graph is occluded (random region, BFS patch or node
            dropout; removal or masking); > 0 gives the model a visibility input. Fast backend only.
        graph_hidden: width of the blendshape branch, an MLP the graph attributes pass through before
            they join the graph readout (0: concatenated as they are).
        graph_asinh: scale s of ``asinh(g / s)`` applied to the graph attributes before standardization
            (blendshape scores are skewed towards 0); 0: none.
        occluded_attrs: GNNs: a graph with at least this share of its landmarks occluded (mask augmentation
            in training; removed or masked landmarks at prediction) has its graph attributes (blendshapes)
            replaced by the training mean, since an occluder corrupts them too (0: always used).
        occluded_attrs_scope: ``face`` (the share of all landmarks decides, for every attribute at once) or
            ``region`` (each blendshape by the share of its own region's landmarks,
            :func:`fer_graph.occlusion.regions.attribute_region`).
        ema: decay of an exponential moving average of the weights, updated after every step; validation,
            early stopping and the saved model use the average (0: off).
        mixup: Beta parameter of mixup between training graphs (coordinates, graph attributes and targets
            mixed; Zhang et al., ICLR 2018); 0: off.
        mirror_tta: validation and predictions average each face and its mirror image (test-time
            augmentation; graph attributes mirrored with it).
        init_from: GNN checkpoint (``.pt`` path, or a bundled model name such as ``fer2013-gat``) whose
            weights initialise the model before training (fine-tuning;
            :func:`fer_graph.models.transfer.transfer_weights`); ``"auto"``: the bundled default model
            when it fits the data (topology, coordinates, graph attributes), else random; ``None``: random.
        refit: GNNs: the final model of each fold trains on all its training subjects (inner-train and
            inner-validation), as the baselines' grid search refits: for the epoch count early stopping
            chose, or, with ``keep="last"``, for the whole schedule in one fit.
        members: GNNs: a seed ensemble of this many models, trained from seeds ``seed`` … ``seed + members
            - 1`` on the same split; predictions average their probabilities (1: one model).
        extra: further model keyword arguments.
    """

    arch: str = "gat"
    features: str | None = None
    epochs: int = 150
    patience: int = 50
    keep: str = "best"
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
    balance: str = Balance.none.value
    augment: bool = True
    rotate_deg: float = 10.0
    scale: float = 0.05
    noise: float = 0.02
    p_mirror: float = 0.5
    label_smoothing: float = 0.1
    folds: int = 10
    val_fraction: float = 0.15
    labels: str = LabelScheme.native.value
    hierarchy: str = Hierarchy.none.value
    exclude: tuple[str, ...] = ()
    seed: int = 0
    backend: str = Backend.fast.value
    standardize: str = Standardize.node.value
    mask_augment: float = 0.0
    graph_hidden: int = 0
    graph_asinh: float = 0.0
    occluded_attrs: float = 0.0
    occluded_attrs_scope: str = "face"
    ema: float = 0.0
    mixup: float = 0.0
    mirror_tta: bool = False
    init_from: str | None = None
    members: int = 1
    refit: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, enum in (("balance", Balance), ("standardize", Standardize), ("backend", Backend),
                           ("labels", LabelScheme), ("hierarchy", Hierarchy)):
            value = getattr(self, name)
            value = value.value if isinstance(value, Enum) else value
            if value not in {e.value for e in enum}:
                raise ValueError(f"TrainConfig: {name}={value!r}; expected one of {[e.value for e in enum]}")
            setattr(self, name, value)
        self.exclude = tuple(self.exclude)
        if self.hierarchy != "none" and self.labels == LabelScheme.valence3.value:
            raise ValueError("TrainConfig: hierarchy='valence' needs the granular classes; labels='valence3' "
                             "already merges them")
        if self.init_from is not None:
            self.init_from = None if str(self.init_from).lower() in ("", "none") else str(self.init_from)
        if self.keep not in ("best", "last"):
            raise ValueError(f"TrainConfig: keep={self.keep!r}; expected 'best' or 'last'")
        if self.mixup < 0:
            raise ValueError(f"TrainConfig: mixup={self.mixup}; expected a Beta parameter >= 0")
        if isinstance(self.members, bool) or not isinstance(self.members, int) or self.members < 1:
            raise ValueError(f"TrainConfig: members={self.members!r}; expected an int >= 1")
        if self.occluded_attrs_scope not in ("face", "region"):
            raise ValueError(f"TrainConfig: occluded_attrs_scope={self.occluded_attrs_scope!r}; expected 'face' or "
                             "'region'")
        if not 0.0 <= self.occluded_attrs <= 1.0:
            raise ValueError(f"TrainConfig: occluded_attrs={self.occluded_attrs}; expected a share in [0, 1]")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"TrainConfig: ema={self.ema}; expected a decay in [0, 1)")

    @classmethod
    def for_topology(cls, topology: str, n_graphs: int = 0, **given: Any) -> TrainConfig:
        """The config of a run on ``n_graphs`` graphs of ``topology`` (``"ibug68"``, ``"mediapipe468"``...):
        the field defaults, then that topology's :data:`GNN_RECIPES` entry when ``arch`` is a GNN (its
        :data:`LARGE_DATASET_RECIPES` entry above :data:`LARGE_DATASET_GRAPHS` graphs), then the arch's
        :data:`ARCH_RECIPES` entry, then ``given`` (values that are ``None`` count as not given).

        Raises:
            ValueError: as the constructor; unknown ``arch`` (the registered names are listed).
        """
        from .models.registry import get_model_entry

        given = {k: v for k, v in given.items() if v is not None}
        arch = given.get("arch", cls.arch)
        recipes = LARGE_DATASET_RECIPES if n_graphs > LARGE_DATASET_GRAPHS else GNN_RECIPES
        recipe = recipes.get(topology, {}) if get_model_entry(arch).kind == "gnn" else {}
        return cls(**{**recipe, **ARCH_RECIPES.get(arch, {}), **given})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``exclude`` as a list)."""
        d = asdict(self)
        d["exclude"] = list(self.exclude)
        return d

    def model_kwargs(self, in_channels: int, num_classes: int, graph_channels: int, num_nodes: int,
                     graph_names: tuple[str, ...] = ()) -> dict[str, Any]:
        """Keyword arguments of the GNN builders for data of these sizes (``graph_names``: the attributes'
        names, which ``occluded_attrs_scope="region"`` needs)."""
        regions = {}
        if self.occluded_attrs and self.occluded_attrs_scope == "region" and graph_channels:
            from .occlusion.regions import attribute_region

            if len(graph_names) != graph_channels:
                raise ValueError("TrainConfig: occluded_attrs_scope='region' needs the graph attributes' names")
            regions = {"attr_regions": [attribute_region(n) for n in graph_names]}
        return {"in_channels": in_channels, "num_classes": num_classes, "hidden_channels": self.hidden,
                "num_layers": self.layers, "heads": self.heads, "dropout": self.dropout,
                "node_embedding": self.node_embedding, "num_nodes": num_nodes, "readout": self.readout,
                "norm": self.norm, "graph_channels": graph_channels, "standardize": self.standardize,
                **({"visibility": True} if self.mask_augment > 0 else {}),
                **({"graph_hidden": self.graph_hidden} if self.graph_hidden else {}),
                **({"graph_asinh": self.graph_asinh} if self.graph_asinh else {}),
                **({"occluded_attrs": self.occluded_attrs} if self.occluded_attrs else {}), **regions, **self.extra}
