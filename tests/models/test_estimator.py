"""The one model interface: fit / predict_proba / classes_ / save / load for GNNs and scikit-learn models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.config import TrainConfig
from fer_graph.models import BUILTIN_MODELS, list_models
from fer_graph.models.estimator import ModelInputs, ModelLoadError, load_classifier, make_classifier
from fer_graph.models.registry import _REGISTRY, get_model_entry
from fer_graph.models.sklearn_estimator import SklearnClassifier, flat_features


def _inputs(ds):
    from fer_graph.graphs.features import default_features

    return ModelInputs.from_dataset(ds, default_features(ds))


def test_builtin_names_match_the_registrations():
    get_model_entry("gat"), get_model_entry("logreg"), get_model_entry("stgcn")  # import every built-in module
    builtin = {n for n, e in _REGISTRY.items() if e.builder.__module__.startswith("fer_graph.models.")}
    assert set(BUILTIN_MODELS) == builtin and len(BUILTIN_MODELS) == len(builtin)
    assert list_models()[:len(BUILTIN_MODELS)] == list(BUILTIN_MODELS)


def test_grid_search_chooses_on_validation_only():
    # class signal only in feature 0; validation labels follow feature 0, so strong regularisation (C=0.01)
    # loses on validation and the best C is the largest
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(80, 3, 2)), dtype=torch.float32)
    y = (x[:, 0, 0] > 0).numpy().astype(int)
    clf = make_classifier("logreg", TrainConfig(arch="logreg"), classes=["a", "b"], topology=None, dims=2)
    train, val = np.arange(0, 60), np.arange(60, 80)
    clf.fit(ModelInputs(x), y, train=train, validation=val)
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    est = clf.estimator_
    feats = flat_features(ModelInputs(x))
    scores = {p["clf__C"]: (clone(est).set_params(**p).fit(feats[train], y[train]).predict(feats[val]) == y[val]).mean()
              for p in ParameterGrid(dict(get_model_entry("logreg").grid))}
    best = max(scores, key=lambda c: (scores[c], -list(scores).index(c)))
    assert clf.best_params_ == {"clf__C": best}
    # the final model is refitted on train + validation
    ref = clone(est).set_params(clf__C=best).fit(feats, y)
    np.testing.assert_allclose(clf.predict_proba(ModelInputs(x)), ref.predict_proba(feats))
    assert clf.predict_proba(ModelInputs(x)).shape == (80, 2)


def test_blendshape_model_refuses_inputs_without_blendshapes():
    clf = SklearnClassifier("blendshape-rf", TrainConfig(arch="blendshape-rf"), classes=["a", "b"])
    with pytest.raises(ValueError, match="blendshapes"):
        clf.fit(ModelInputs(torch.zeros(4, 3, 2)), np.array([0, 1, 0, 1]), train=np.arange(4),
                validation=np.array([], dtype=int))


@pytest.mark.parametrize("arch", ["logreg", "blendshape-rf", "gat"])
def test_save_load_round_trip(tmp_path, synthetic_mesh_graphs, arch):
    ds = synthetic_mesh_graphs
    inputs = _inputs(ds)
    y = ds.tensor("y").numpy()
    cfg = TrainConfig(arch=arch, epochs=2, hidden=8, layers=1, heads=2, node_embedding=0)
    clf = make_classifier(arch, cfg, classes=ds.classes, topology=ds.topology, dims=2)
    clf.fit(inputs, y, train=np.arange(0, 50), validation=np.arange(50, 70))
    probs = clf.predict_proba(inputs)
    assert probs.shape == (70, len(ds.classes))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    meta = {"topology": ds.meta["topology"], "features": "apex+blendshapes", "node_dims": 2}
    path = clf.save(tmp_path / "fold_00", meta)
    assert path.suffix == clf.suffix
    loaded, meta_back = load_classifier(path)
    assert loaded.classes_ == ds.classes and meta_back["arch"] == arch and meta_back["topology"] == "mediapipe468"
    np.testing.assert_allclose(loaded.predict_proba(inputs), probs, atol=1e-6)
    assert loaded.kind == clf.kind and loaded.reference_strategy == ("removal" if arch == "gat" else "imputation")


class _Planted:
    def __init__(self, marker):
        self.marker = str(marker)


def test_untrusted_skops_content_is_refused_without_running(tmp_path):
    import skops.io as sio

    marker = tmp_path / "ran"
    path = tmp_path / "fold_00.skops"
    sio.dump({"model": _Planted(marker), "meta": {"arch": "logreg", "classes": ["a"]}}, path)
    with pytest.raises(ModelLoadError, match=r"fold_00\.skops: refusing to load untrusted types .*_Planted"):
        load_classifier(path)
    assert not marker.exists()


def test_damaged_model_files_name_the_file(tmp_path):
    bad_pt = tmp_path / "fold_00.pt"
    bad_pt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelLoadError, match=r"fold_00\.pt: not a readable fer-graph checkpoint"):
        load_classifier(bad_pt)
    bad_sk = tmp_path / "fold_01.skops"
    bad_sk.write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match=r"fold_01\.skops: not a readable fer-graph model"):
        load_classifier(bad_sk)
    with pytest.raises(ModelLoadError, match="unknown model file type '.joblib'"):
        (tmp_path / "fold_02.joblib").write_bytes(b"x")
        load_classifier(tmp_path / "fold_02.joblib")
    with pytest.raises(FileNotFoundError, match="fold_03.pt"):
        load_classifier(tmp_path / "fold_03.pt")


def test_planted_pickle_checkpoint_is_not_executed(tmp_path):
    marker = tmp_path / "ran"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "fold_00.pt"
    torch.save({"state_dict": {}, "meta": Boom()}, path)
    with pytest.raises(ModelLoadError, match="fold_00.pt"):
        load_classifier(path)
    assert not marker.exists()


def test_landmark_distances_are_to_the_centroid_of_the_coordinate_channels():
    from fer_graph.models.sklearn_estimator import landmark_distances

    # a 3-4-5 triangle shifted by (10, 10): centroid (11, 11.333); a 4th channel (e.g. displacement) is ignored
    pos = torch.tensor([[[10.0, 10.0], [13.0, 10.0], [10.0, 14.0]]])
    x = torch.cat([pos, torch.full((1, 3, 1), 99.0)], dim=-1)
    c = pos.mean(1)
    expected = (pos - c[:, None]).norm(dim=-1)
    torch.testing.assert_close(landmark_distances(x, 2), expected)
    torch.testing.assert_close(expected[0, 1], torch.tensor((2.0**2 + (4 / 3) ** 2) ** 0.5))
    feats = flat_features(ModelInputs(x, graph_attr=torch.tensor([[0.5, 0.25]])), kind="distances", dims=2)
    np.testing.assert_allclose(feats, np.concatenate([expected.numpy(), [[0.5, 0.25]]], axis=1), rtol=1e-6)


def test_dist_pca_svm_fits_its_fixed_recipe_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(120, 60, 3)), dtype=torch.float32)
    y = (x[:, 0, :2].norm(dim=-1) > 1.2).numpy().astype(int)  # the class lives in one landmark's distance
    clf = make_classifier("dist-pca-svm", TrainConfig(arch="dist-pca-svm"), classes=["a", "b"], topology=None, dims=2)
    clf.fit(ModelInputs(x), y, train=np.arange(100), validation=np.arange(100, 120))
    steps = clf.estimator_.named_steps
    assert list(steps) == ["pca", "scale", "clf"] and steps["pca"].n_components_ == 50 and steps["clf"].C == 5.0
    assert steps["pca"].n_features_in_ == 60  # one distance per landmark, not 3 coordinates
    path = clf.save(tmp_path / "m", {})
    again, _ = load_classifier(path)
    np.testing.assert_array_equal(again.predict_proba(ModelInputs(x)), clf.predict_proba(ModelInputs(x)))


def test_weighted_balance_reaches_the_mlp_through_sample_weights(monkeypatch):
    """scikit-learn's MLPClassifier has no class_weight: --balance weighted passes inverse-frequency sample
    weights to its fit instead (models with class_weight keep it and get none)."""
    from sklearn.neural_network import MLPClassifier

    seen = []
    real = MLPClassifier.fit
    monkeypatch.setattr(MLPClassifier, "fit", lambda self, X, y, sample_weight=None:
                        seen.append(sample_weight) or real(self, X, y, sample_weight=sample_weight))
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(60, 3, 2)), dtype=torch.float32)
    y = np.array([0] * 45 + [1] * 15)
    for balance in ("none", "weighted"):
        clf = make_classifier("mlp", TrainConfig(arch="mlp", balance=balance), classes=["a", "b"], topology=None, dims=2)
        clf.fit(ModelInputs(x), y, train=np.arange(60), validation=np.array([], dtype=int))
    plain, weighted = seen
    assert plain is None
    np.testing.assert_allclose(weighted, np.where(y == 0, 60 / (2 * 45), 60 / (2 * 15)))
    logreg = make_classifier("logreg", TrainConfig(arch="logreg", balance="weighted"), classes=["a", "b"],
                             topology=None, dims=2)
    assert logreg._weights(get_model_entry("logreg").builder(class_weight="balanced"), y) == {}
