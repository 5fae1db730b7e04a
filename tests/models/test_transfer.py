"""Fine-tuning from a checkpoint: which tensors are copied, output rows mapped by class name, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.config import TrainConfig
from fer_graph.graphs.features import FeatureSpec
from fer_graph.models import get_model
from fer_graph.models.estimator import ModelInputs, make_classifier
from fer_graph.models.gnn_estimator import save_checkpoint
from fer_graph.models.pretrained import resolve_pretrained
from fer_graph.models.transfer import transfer_weights

_KW = dict(in_channels=2, hidden_channels=8, heads=2, num_nodes=468, readout="mean+max+flatten", standardize="node",
           graph_channels=3, node_embedding=4, backend="fast")
_NAMES = ("a_score", "b_score", "c_score")


def _source(tmp_path, classes=("anger", "fear", "happiness"), layers=1, **meta):
    torch.manual_seed(0)
    model = get_model("gat", num_classes=len(classes), num_layers=layers, **_KW)
    model.x_mean.normal_()  # standardization buffers unlike a fresh model's
    path = tmp_path / "source.pt"
    kwargs = {**_KW, "num_classes": len(classes), "num_layers": layers}
    kwargs.pop("backend")
    save_checkpoint(path, model, {"arch": "gat", "model_kwargs": kwargs, "classes": list(classes),
                                  "topology": "mediapipe468", "features": "apex+blendshapes", "node_dims": 2,
                                  "graph_names": list(_NAMES), **meta})
    return model, path


def _target(classes, layers=1, seed=1):
    torch.manual_seed(seed)
    return get_model("gat", num_classes=len(classes), num_layers=layers, **_KW)


def test_matching_tensors_are_copied_and_output_rows_follow_the_class_names(tmp_path):
    src, path = _source(tmp_path)
    classes = ["fear", "contempt", "anger"]
    dst = _target(classes)
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    info = transfer_weights(dst, path, classes=classes, topology="mediapipe468", node_dims=2, graph_names=_NAMES)
    s, d = src.state_dict(), dst.state_dict()
    out = [k for k in d if k.startswith("head.3.")]
    assert out == ["head.3.weight", "head.3.bias"]
    for k in d:
        if k not in out:
            assert torch.equal(d[k], s[k]), k
    for k in out:
        assert torch.equal(d[k][0], s[k][1]) and torch.equal(d[k][2], s[k][0])  # fear, anger
        assert torch.equal(d[k][1], fresh[k][1])  # contempt keeps its initialisation
    assert info == {"tensors": len(d), "skipped": 0, "classes": 2}


def test_layers_the_checkpoint_lacks_keep_their_initialisation(tmp_path):
    src, path = _source(tmp_path, layers=1)
    dst = _target(["anger", "fear", "happiness"], layers=2)
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    info = transfer_weights(dst, path, classes=["anger", "fear", "happiness"], topology="mediapipe468",
                            node_dims=2, graph_names=_NAMES)
    d = dst.state_dict()
    second = [k for k in d if k.startswith(("convs.1.", "norms.1."))]
    assert second and all(torch.equal(d[k], fresh[k]) for k in second)
    assert torch.equal(d["convs.0.lin.weight"], src.state_dict()["convs.0.lin.weight"])
    assert info["skipped"] == len(second)


@pytest.mark.parametrize("change, match", [
    ({"topology": "mediapipe478"}, "topology is mediapipe468"),
    ({"node_dims": 3}, "coordinates per landmark is 2"),
    ({"graph_names": ("a_score",)}, "graph attributes is 3 columns, the data's 1 columns"),
    ({"classes": ["contempt", "neutral", "surprise"]}, "share none"),
])
def test_a_checkpoint_of_other_data_is_refused(tmp_path, change, match):
    _, path = _source(tmp_path)
    call = {"classes": ["anger", "fear", "happiness"], "topology": "mediapipe468", "node_dims": 2,
            "graph_names": _NAMES} | change
    dst = _target(call["classes"])
    with pytest.raises(ValueError, match=match):
        transfer_weights(dst, path, **call)


def test_a_fit_from_a_checkpoint_starts_from_its_weights(tmp_path, synthetic_mesh_graphs):
    ds = synthetic_mesh_graphs
    inputs = ModelInputs.from_dataset(ds, FeatureSpec.parse("apex+blendshapes"))
    y = ds.tensor("y").numpy()
    cfg = TrainConfig(epochs=2, hidden=8, layers=1, heads=2, node_embedding=0, augment=False)
    first = make_classifier("gat", cfg, classes=ds.classes, topology=ds.topology, dims=2)
    first.fit(inputs, y, train=np.arange(50), validation=np.arange(50, 70))
    ckpt = first.save(tmp_path / "first", {"topology": ds.topology.name, "features": "apex+blendshapes",
                                           "node_dims": 2})
    # learning rate 0: the fine-tuned model is the checkpoint's, whatever its own initialisation
    tuned = make_classifier("gat", TrainConfig(**{**cfg.to_dict(), "exclude": (), "lr": 0.0, "seed": 5,
                                                  "init_from": str(ckpt)}),
                            classes=ds.classes, topology=ds.topology, dims=2)
    tuned.fit(inputs, y, train=np.arange(20, 70), validation=np.arange(20))
    np.testing.assert_allclose(tuned.predict_proba(inputs), first.predict_proba(inputs), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        make_classifier("gat", TrainConfig(**{**cfg.to_dict(), "exclude": (), "init_from": str(tmp_path / "no.pt")}),
                        classes=ds.classes, topology=ds.topology, dims=2).fit(
            inputs, y, train=np.arange(50), validation=np.arange(50, 70))


def test_bundled_names_resolve_inside_the_package_and_paths_as_given(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"")
    assert resolve_pretrained(tmp_path / "m.pt") == tmp_path / "m.pt"
    with pytest.raises(FileNotFoundError, match="bundled models"):
        resolve_pretrained(tmp_path / "missing.pt")


def test_auto_fine_tunes_from_the_bundled_model_when_it_fits_and_else_starts_random(tmp_path, monkeypatch,
                                                                                   synthetic_mesh_graphs):
    import fer_graph.models.pretrained as pretrained

    ds = synthetic_mesh_graphs
    y = ds.tensor("y").numpy()
    cfg = TrainConfig(epochs=2, hidden=8, layers=1, heads=2, node_embedding=0, augment=False)
    with_bs = ModelInputs.from_dataset(ds, FeatureSpec.parse("apex+blendshapes"))
    first = make_classifier("gat", cfg, classes=ds.classes, topology=ds.topology, dims=2)
    first.fit(with_bs, y, train=np.arange(50), validation=np.arange(50, 70))
    first.save(tmp_path / "bundled", {"topology": ds.topology.name, "features": "apex+blendshapes", "node_dims": 2})
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setitem(pretrained.BUNDLED_MODELS, "test-bundle", "bundled.pt")
    monkeypatch.setattr(pretrained, "DEFAULT_PRETRAINED", "test-bundle")
    auto = TrainConfig(**{**cfg.to_dict(), "exclude": (), "lr": 0.0, "init_from": "auto"})
    tuned = make_classifier("gat", auto, classes=ds.classes, topology=ds.topology, dims=2)
    tuned.fit(with_bs, y, train=np.arange(50), validation=np.arange(50, 70))
    assert tuned.fit_info_["init"] == "test-bundle" and tuned.fit_info_["init_skipped"] == 0
    np.testing.assert_allclose(tuned.predict_proba(with_bs), first.predict_proba(with_bs), atol=1e-6)
    # coordinates only: the bundled model (trained with blendshapes) does not fit, so training starts random
    plain = ModelInputs.from_dataset(ds, FeatureSpec.parse("apex"))
    random_start = make_classifier("gat", auto, classes=ds.classes, topology=ds.topology, dims=2)
    random_start.fit(plain, y, train=np.arange(50), validation=np.arange(50, 70))
    assert random_start.fit_info_["init"] == "random"
    assert "graph attributes is 52 columns, the data's 0 columns" in random_start.fit_info_["reason"]
    explicit = make_classifier("gat", TrainConfig(**{**auto.to_dict(), "exclude": (), "init_from": "test-bundle"}),
                               classes=ds.classes, topology=ds.topology, dims=2)
    with pytest.raises(ValueError, match="graph attributes"):
        explicit.fit(plain, y, train=np.arange(50), validation=np.arange(50, 70))
    assert TrainConfig(init_from="none").init_from is None and TrainConfig().init_from is None


def test_the_bundled_model_loads_and_matches_its_model_card():
    import hashlib
    import re

    from fer_graph.graphs.topology import get_topology
    from fer_graph.landmarks.mediapipe_source import BLENDSHAPE_NAMES
    from fer_graph.models.gnn_estimator import load_checkpoint
    from fer_graph.models.pretrained import BUNDLED_MODELS, DEFAULT_PRETRAINED

    assert DEFAULT_PRETRAINED in BUNDLED_MODELS
    path = resolve_pretrained(DEFAULT_PRETRAINED)
    card = path.with_suffix(".md").read_text()
    assert re.search(r"sha256 `([0-9a-f]{64})`", card)[1] == hashlib.sha256(path.read_bytes()).hexdigest()
    module, meta = load_checkpoint(path, backend="fast")
    assert meta["classes"] == ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    assert (meta["topology"], meta["node_dims"], tuple(meta["graph_names"])) == ("mediapipe468", 3, BLENDSHAPE_NAMES)
    assert f"{sum(p.numel() for p in module.parameters()):,} parameters" in card
    probs = torch.softmax(module(torch.zeros(2, 468, 3), get_topology("mediapipe468").edge_index, graph_attr=torch.zeros(2, 52)), -1)
    assert probs.shape == (2, 7) and torch.allclose(probs.sum(1), torch.ones(2))

