"""ONNX export: the exported file reproduces the PyTorch model's probabilities, carries its meta, refuses
what it cannot do, and the bundled export matches the bundled checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from fer_graph.models import get_model  # noqa: E402
from fer_graph.models.ensemble import ProbabilityAverage  # noqa: E402
from fer_graph.models.estimator import ModelInputs, ModelLoadError, load_classifier  # noqa: E402
from fer_graph.models.gnn_estimator import save_checkpoint  # noqa: E402
from fer_graph.models.onnx_export import export_onnx  # noqa: E402
from fer_graph.models.onnx_model import OnnxClassifier  # noqa: E402
from fer_graph.models.pretrained import WEIGHTS_DIR, resolve_pretrained  # noqa: E402

_NAMES = ["browDownLeft", "browDownRight", "jawOpen"]


def _checkpoint(tmp_path, *, conv="gat", readout="flatten", members=1, layers=1, graph=True, mirror_tta=False,
                norm="layer", dropout=0.3):
    kwargs = dict(in_channels=2, num_classes=4, hidden_channels=8, heads=2, num_layers=layers, dropout=dropout,
                  num_nodes=68, readout=readout, norm=norm, standardize="node", node_embedding=4,
                  graph_channels=3 if graph else 0)
    torch.manual_seed(0)
    arch = "gcn" if conv == "gcn" else "gat"
    extra = {"v2": True} if conv == "gatv2" else {}
    models = [get_model(arch, backend="fast", **extra, **kwargs) for _ in range(members)]
    for m in models:
        m.x_mean.normal_()  # standardization buffers unlike a fresh model's
        m.x_std.uniform_(0.5, 2.0)
        if graph:
            m.g_mean.normal_()
    module = models[0] if members == 1 else ProbabilityAverage(models)
    path = tmp_path / f"{conv}.pt"
    save_checkpoint(path, module, {"arch": arch, "model_kwargs": {**kwargs, **extra}, "classes": list("abcd"),
                                   "topology": "ibug68", "features": "apex+blendshapes" if graph else "apex",
                                   "node_dims": 2, "graph_names": _NAMES if graph else [], "members": members,
                                   "mirror_tta": mirror_tta})
    return path


def _inputs(n, graph=True, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 68, 2, generator=gen)
    return ModelInputs(x, torch.rand(n, 3, generator=gen) if graph else None)


def _numpy(inputs):
    return ModelInputs(inputs.x.numpy(), None if inputs.graph_attr is None else inputs.graph_attr.numpy())


@pytest.mark.parametrize("conv,readout,members,mirror,graph,norm", [
    ("gat", "flatten", 1, False, True, "layer"),
    ("gat", "mean+max", 2, True, True, "layer"),
    ("gcn", "attention", 1, False, False, "layer"),
    ("gatv2", "mean+max+flatten", 1, True, True, "batch"),
])
def test_export_reproduces_the_checkpoint_probabilities_for_any_batch_size(tmp_path, conv, readout, members, mirror,
                                                                           graph, norm):
    pt = _checkpoint(tmp_path, conv=conv, readout=readout, members=members, mirror_tta=mirror, graph=graph,
                     norm=norm, layers=2)
    torch_clf, meta = load_classifier(pt)
    onnx_clf, onnx_meta = load_classifier(export_onnx(pt, tmp_path / "model"))
    assert isinstance(onnx_clf, OnnxClassifier) and onnx_clf.path.suffix == ".onnx"
    assert onnx_meta == json.loads(json.dumps(meta)) and onnx_clf.classes_ == list("abcd")
    for n in (1, 3, 70):  # 70 > OnnxClassifier.batch_size: two ONNX Runtime calls
        inputs = _inputs(n, graph)
        want = torch_clf.predict_proba(inputs)
        got = onnx_clf.predict_proba(_numpy(inputs))
        assert got.shape == (n, 4)
        np.testing.assert_allclose(got, want, atol=1e-5)
        np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)


def test_mirror_tta_is_in_the_exported_graph(tmp_path):
    plain_pt = _checkpoint(tmp_path, mirror_tta=False).rename(tmp_path / "plain.pt")
    plain = load_classifier(export_onnx(plain_pt, tmp_path / "plain"))[0]
    tta = load_classifier(export_onnx(_checkpoint(tmp_path, mirror_tta=True), tmp_path / "tta"))[0]
    inputs = _numpy(_inputs(5))
    assert not np.allclose(plain.predict_proba(inputs), tta.predict_proba(inputs), atol=1e-4)


def test_onnx_model_refuses_masks_training_and_missing_attributes(tmp_path):
    clf = load_classifier(export_onnx(_checkpoint(tmp_path), tmp_path / "m"))[0]
    inputs = _numpy(_inputs(2))
    with pytest.raises(ValueError, match="no node mask"):
        clf.predict_proba(inputs, mask=np.ones((2, 68), bool))
    with pytest.raises(TypeError, match="cannot be trained"):
        clf.fit(inputs, np.zeros(2, int), train=np.arange(2), validation=np.arange(0))
    with pytest.raises(ValueError, match="graph attributes"):
        clf.predict_arrays(inputs.x)


def test_foreign_and_broken_onnx_files_are_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(ModelLoadError, match="not a readable ONNX model"):
        load_classifier(bad)
    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(foreign))
    with pytest.raises(ModelLoadError, match="without fer-graph meta"):
        load_classifier(foreign)


def test_export_refuses_a_baseline_model(tmp_path):
    skops = pytest.importorskip("skops")  # noqa: F841
    from fer_graph.config import TrainConfig
    from fer_graph.graphs.topology import get_topology
    from fer_graph.models.estimator import make_classifier

    clf = make_classifier("logreg", TrainConfig(), classes=["a", "b"], topology=get_topology("ibug68"), dims=2)
    x = torch.randn(20, 68, 2)
    y = np.arange(20) % 2
    clf.fit(ModelInputs(x), y, train=np.arange(20), validation=np.arange(0))
    path = clf.save(tmp_path / "lr", {"topology": "ibug68", "features": "apex", "node_dims": 2})
    with pytest.raises(ValueError, match="only graph models"):
        export_onnx(path, tmp_path / "lr")


def test_bundled_export_is_the_bundled_checkpoint():
    """The shipped ``.onnx`` carries the shipped ``.pt``'s meta and probabilities: a replaced checkpoint
    without a fresh export fails here."""
    pt = resolve_pretrained("fer2013-gat")
    onnx_path = pt.with_suffix(".onnx")
    torch_clf, meta = load_classifier(pt)
    onnx_clf, onnx_meta = load_classifier(onnx_path)
    assert onnx_meta == json.loads(json.dumps(meta))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 468, 3, generator=gen)
    ga = torch.rand(6, 52, generator=gen) * 0.3
    np.testing.assert_allclose(onnx_clf.predict_proba(_numpy(ModelInputs(x, ga))),
                               torch_clf.predict_proba(ModelInputs(x, ga)), atol=1e-5)
    assert onnx_path.parent == WEIGHTS_DIR


def test_bundled_model_predicts_without_importing_torch_pyg_pandas_or_scipy():
    code = """
import sys
import numpy as np
import fer_graph
model = fer_graph.load_model()
from fer_graph.graphs.canonical import canonical_face
rng = np.random.default_rng(0)
pts = canonical_face("mediapipe468")[None] * 10 + rng.normal(0, 0.05, (2, 468, 3))
probs = model.predict_landmarks(pts, blendshapes=np.full((2, 52), 0.1, np.float32))
assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-5), probs
print(sorted(m for m in ("torch", "torch_geometric", "pandas", "scipy", "sklearn", "numba") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
