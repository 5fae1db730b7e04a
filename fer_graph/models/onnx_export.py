"""Export a trained graph model to ONNX, so prediction runs in ONNX Runtime without importing PyTorch.

The exported graph is the checkpoint's module itself (seed ensembles, standardization and mirror test-time
augmentation included), traced with the fast layers' plain-tensor message passing
(:mod:`fer_graph.models._eager`); the checkpoint meta travels in the file's ``metadata_props``
(:data:`META_KEY`), so an ``.onnx`` file is a model file like a ``.pt`` (see
:class:`fer_graph.models.onnx_model.OnnxClassifier`). Inputs: ``x`` ``(B, V, F)`` float32 node features and,
for models with graph attributes, ``graph_attr`` ``(B, A)`` float32; output ``probabilities`` ``(B, C)``.
Needs the ``onnx`` package (``pip install fer-graph[export]``) to write the metadata.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._io import atomic_path
from ..graphs.augment import attribute_mirror
from ._fixed_graph import FixedGraph, fixed_graph
from .estimator import FaceClassifier, load_classifier
from .onnx_model import META_KEY, OnnxClassifier

__all__ = ["export_onnx", "OPSET"]

#: ONNX opset of the exported graphs (ONNX Runtime >= 1.14 runs it).
OPSET = 17


class _Probabilities(nn.Module):
    """Softmax of ``module`` on a fixed topology, averaged with the mirror image when ``mirror`` is given."""

    def __init__(self, module: nn.Module, graph: FixedGraph, mirror: tuple[Tensor, Tensor, Tensor] | None) -> None:
        super().__init__()
        self.module, self.graph, self.mirror = module, graph, mirror

    def forward(self, x: Tensor, graph_attr: Tensor | None = None) -> Tensor:
        probs = torch.softmax(self.module(x, self.graph, graph_attr=graph_attr), dim=-1)
        if self.mirror is None:
            return probs
        perm, x_sign, attr = self.mirror
        flipped = None if graph_attr is None or attr is None else graph_attr[:, attr[0]] * attr[1]
        mirrored = torch.softmax(self.module(x[:, perm] * x_sign, self.graph, graph_attr=flipped), dim=-1)
        return (probs + mirrored) / 2


def _wrap(clf: FaceClassifier, features: int) -> _Probabilities:
    """The classifier's module as :class:`_Probabilities` (mirror TTA as in ``predict_proba``)."""
    topo = clf.topology
    mirror = None
    if clf.mirror_tta:
        perm = torch.as_tensor(topo.mirror, dtype=torch.long)
        sign = torch.ones(features)
        sign[0::clf.dims] = -1.0
        mirror = (perm, sign, attribute_mirror(clf.graph_names_))
    # eval mode on the wrapper too: the exporter restores the wrapper's mode, recursively, after tracing
    return _Probabilities(clf.module_, fixed_graph(topo.edge_index, topo.num_nodes), mirror).eval()


def export_onnx(source: str | os.PathLike, out: str | os.PathLike, *, fold: int | None = None,
                check: bool = True) -> Path:
    """Write a graph model as ONNX file ``out``, atomically.

    Args:
        source: a GNN checkpoint (``.pt``), a bundled model name, or a run directory of ``fer-graph train``
            (its one fold model, or fold ``fold``).
        out: the ``.onnx`` file to write (the suffix is added when missing).
        fold: the fold model of a run directory with several.
        check: run the exported file in ONNX Runtime on random inputs (4 graphs, then 1) and raise unless
            its probabilities match PyTorch's to 1e-4.

    Raises:
        ValueError: ``source`` is not a graph model, a run with several folds and no ``fold``, or the
            check fails.
        ModelLoadError / FileNotFoundError: as :func:`fer_graph.models.estimator.load_classifier`.
        ImportError: the ``onnx`` package is missing (``pip install fer-graph[export]``).
    """
    import onnx

    source = _checkpoint_of(source, fold)
    clf, meta = load_classifier(source, backend="fast")
    if clf.kind != "gnn":
        raise ValueError(f"{source}: only graph models export to ONNX (this is a {clf.kind} model)")
    kw = clf.model_kwargs_
    features, attrs = int(kw["in_channels"]), int(kw.get("graph_channels", 0))
    gen = torch.Generator().manual_seed(0)
    example = (torch.randn(4, clf.topology.num_nodes, features, generator=gen),) + (
        (torch.rand(4, attrs, generator=gen),) if attrs else ())
    wrapper = _wrap(clf, features)
    names = ["x", "graph_attr"][:len(example)]
    out = Path(out).with_suffix(".onnx")
    with atomic_path(out) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
        torch.onnx.export(wrapper, example, str(tmp), input_names=names, output_names=["probabilities"],
                          dynamic_axes={n: {0: "graphs"} for n in names + ["probabilities"]},
                          opset_version=OPSET, dynamo=False)
        model = onnx.load(str(tmp))
        entry = model.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(_jsonable(meta))
        onnx.save(model, str(tmp))
        if check:
            _check(tmp, wrapper, example, source)
    return out


def _checkpoint_of(source: str | os.PathLike, fold: int | None) -> Path:
    """The ``.pt`` file that ``source`` (file, bundled name or run directory) names."""
    from .pretrained import BUNDLED_MODELS, resolve_pretrained

    if str(source) in BUNDLED_MODELS:
        return resolve_pretrained(str(source))
    path = Path(source)
    if not path.is_dir():
        return path
    from ..training.rundir import verify_run

    files = sorted(path / f for f in verify_run(path)["files"] if f.startswith("checkpoints/fold_"))
    if fold is not None:
        files = [f for f in files if f.stem == f"fold_{fold:02d}"]
    if len(files) != 1:
        raise ValueError(f"{path}: {len(files)} fold models match; choose one with fold= (--fold): "
                         f"{[f.stem for f in sorted(path.glob('checkpoints/fold_*'))]}")
    return files[0]


def _check(path: Path, wrapper: nn.Module, example: tuple[Tensor, ...], source: Any) -> None:
    """Raise ValueError unless ONNX Runtime's probabilities on ``example`` (and on its first graph alone: a
    batch size other than the traced one) match ``wrapper``'s to 1e-4."""
    onnx_clf = OnnxClassifier.load(path)[0]
    wrapper.eval()
    for n in (len(example[0]), 1):
        args = tuple(t[:n] for t in example)
        with torch.no_grad():
            want = wrapper(*args).numpy()
        got = onnx_clf.predict_arrays(*(a.numpy() for a in args))
        if not np.allclose(got, want, atol=1e-4):
            raise ValueError(f"{source}: the ONNX export disagrees with PyTorch (max |diff| "
                             f"{np.abs(got - want).max():.2e} on {n} graph(s))")


def _jsonable(value: Any) -> Any:
    """``value`` with tuples as lists and numpy scalars as Python numbers (checkpoint meta is plain data)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
