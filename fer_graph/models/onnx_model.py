"""Graph models exported to ONNX, run with ONNX Runtime: prediction without importing PyTorch.

An ``.onnx`` file written by :func:`fer_graph.models.onnx_export.export_onnx` holds the whole model
(ensemble members, standardization, mirror test-time augmentation) and its checkpoint meta; this module
imports numpy and onnxruntime only, which start in a fraction of PyTorch's import time
(docs/predict.md, "Start-up time").
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from .estimator import FaceClassifier, ModelInputs, ModelLoadError

__all__ = ["OnnxClassifier", "META_KEY", "onnx_available"]

#: ``metadata_props`` key of the checkpoint meta (JSON) in an exported file.
META_KEY = "fer_graph_meta"


def onnx_available() -> bool:
    """Whether ONNX Runtime is installed."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxClassifier(FaceClassifier):
    """A trained graph model exported to ONNX: :meth:`predict_proba` only (it cannot be trained; fit the
    PyTorch model and export it again).

    Args:
        path: the ``.onnx`` file; meta: its checkpoint meta; session: an ``onnxruntime.InferenceSession``.

    Attributes:
        classes_, topology, dims: as the exported :class:`~fer_graph.models.gnn_estimator.GNNClassifier`.
        batch_size: graphs per ONNX Runtime call (bounds peak memory).
    """

    kind = "gnn"
    suffix = ".onnx"
    supports_removal = False
    batch_size = 64

    def __init__(self, path: Path, meta: dict[str, Any], session: Any) -> None:
        super().__init__(meta["arch"], list(meta["classes"]))
        self.path, self.meta, self.session = path, meta, session
        self.dims = int(meta["node_dims"])
        self.inputs = [i.name for i in session.get_inputs()]

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[OnnxClassifier, dict[str, Any]]:
        """``(classifier, meta)`` of an exported file, on one ONNX Runtime thread per core.

        Raises:
            FileNotFoundError: no such file. ModelLoadError: not an ONNX file, or one without fer-graph meta.
        """
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: model file not found")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        # no busy-waiting between calls: idle ONNX Runtime threads would take the cores from the detector
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own InvalidProtobuf / Fail types
            raise ModelLoadError(f"{path}: not a readable ONNX model ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        raw = session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if raw is None:
            raise ModelLoadError(f"{path}: an ONNX model without fer-graph meta ({META_KEY!r}); export "
                                 "checkpoints with `fer-graph export`")
        meta = json.loads(raw)
        return cls(path, meta, session), meta

    @property
    def topology(self):
        """The landmark :class:`~fer_graph.graphs.topology.Topology` of the exported model."""
        from ..graphs.topology import get_topology

        return get_topology(self.meta["topology"])

    def fit(self, inputs: ModelInputs, y: np.ndarray, *, train: np.ndarray, validation: np.ndarray,
            on_epoch: Any = None) -> OnnxClassifier:
        raise TypeError(f"{self.path}: an exported ONNX model cannot be trained; train the .pt checkpoint")

    def predict_proba(self, inputs: ModelInputs, *, mask: Any = None, visible: Any = None) -> np.ndarray:
        """``(G, C)`` probabilities of ``inputs`` (tensors or arrays).

        Raises:
            ValueError: ``mask`` or ``visible`` given (exported models see every landmark).
        """
        if mask is not None or visible is not None:
            raise ValueError(f"{self.path}: exported ONNX models take no node mask or visibility; "
                             "use the .pt checkpoint for occlusion studies")
        ga = None if inputs.graph_attr is None else np.asarray(inputs.graph_attr)
        return self.predict_arrays(np.asarray(inputs.x), ga)

    def predict_arrays(self, x: np.ndarray, graph_attr: np.ndarray | None = None) -> np.ndarray:
        """``(G, C)`` float32 probabilities of node features ``x`` ``(G, V, F)`` and graph attributes
        ``(G, A)`` (required when the model has them), :attr:`batch_size` graphs per call.

        Raises:
            ValueError: ``graph_attr`` missing for a model that needs it.
        """
        if "graph_attr" in self.inputs and graph_attr is None:
            raise ValueError(f"{self.path}: this model needs graph attributes (graph_attr)")
        out = [np.zeros((0, len(self.classes_)), np.float32)]
        for start in range(0, len(x), self.batch_size):
            feed = {"x": np.ascontiguousarray(x[start:start + self.batch_size], dtype=np.float32)}
            if "graph_attr" in self.inputs:
                feed["graph_attr"] = np.ascontiguousarray(graph_attr[start:start + self.batch_size], np.float32)
            out.append(self.session.run(None, feed)[0])
        return np.concatenate(out)

    def save(self, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
        """Copy the exported file to ``path`` (``.onnx``), atomically; ``meta`` is the file's own."""
        path = Path(path).with_suffix(self.suffix)
        with atomic_path(path) as tmp:
            shutil.copyfile(self.path, tmp)
        return path
