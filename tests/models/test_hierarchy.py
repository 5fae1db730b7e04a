"""--hierarchy valence: a valence tier, then one classifier per valence group; P(class) = P(group) P(class | group)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.config import TrainConfig
from fer_graph.labels import VALENCE3
from fer_graph.models.estimator import ModelInputs, load_classifier, make_classifier
from fer_graph.models.hierarchy import HierarchicalClassifier, class_groups

FER7 = ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]


def _inputs(ds):
    from fer_graph.graphs.features import default_features

    return ModelInputs.from_dataset(ds, default_features(ds))


def test_valence_groups_of_the_fer_classes():
    assert class_groups(FER7, VALENCE3) == {"negative": [0, 1, 2, 5], "positive": [3], "neutral": [4, 6]}
    assert class_groups(["happiness", "surprise"], VALENCE3) == {"positive": [0], "neutral": [1]}
    with pytest.raises(ValueError, match="no group"):
        class_groups(["anger", "boredom"], VALENCE3)
    with pytest.raises(ValueError, match="valence3"):
        TrainConfig(hierarchy="valence", labels="valence3")


@pytest.mark.parametrize("arch", ["logreg", "gat"])
def test_probabilities_multiply_the_tiers_and_sum_to_one(tmp_path, synthetic_mesh_graphs, arch):
    ds = synthetic_mesh_graphs
    assert ds.classes == FER7
    inputs, y = _inputs(ds), ds.tensor("y").numpy()
    cfg = TrainConfig(arch=arch, hierarchy="valence", epochs=2, hidden=8, layers=1, heads=2, node_embedding=0)
    clf = make_classifier(arch, cfg, classes=ds.classes, topology=ds.topology, dims=2)
    assert isinstance(clf, HierarchicalClassifier)
    train, val = np.arange(0, 50), np.arange(50, 70)
    clf.fit(inputs, y, train=train, validation=val)
    assert clf.top_.classes_ == ["negative", "positive", "neutral"] and set(clf.inner_) == {"negative", "neutral"}
    assert clf.inner_["negative"].classes_ == ["anger", "disgust", "fear", "sadness"]
    assert clf.inner_["neutral"].classes_ == ["neutral", "surprise"]
    probs = clf.predict_proba(inputs)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    p_group = clf.top_.predict_proba(inputs)
    np.testing.assert_allclose(probs[:, [0, 1, 2, 5]], p_group[:, [0]] * clf.inner_["negative"].predict_proba(inputs))
    np.testing.assert_allclose(probs[:, 3], p_group[:, 1])  # a one-class group is its group probability
    np.testing.assert_allclose(probs[:, [4, 6]].sum(1), p_group[:, 2], atol=1e-6)
    assert clf.fit_info_["val_accuracy"] == pytest.approx(float((probs[val].argmax(1) == y[val]).mean()))
    assert clf.kind == clf.top_.kind and clf.supports_removal == (arch == "gat")
    meta = {"topology": ds.meta["topology"], "features": "apex+blendshapes", "node_dims": 2}
    path = clf.save(tmp_path / "fold_00", meta)
    loaded, back = load_classifier(path)
    assert path.suffix == ".hier" and back["hierarchy"] == "valence" and loaded.classes_ == FER7
    np.testing.assert_allclose(loaded.predict_proba(inputs), probs, atol=1e-6)


def test_inner_tiers_fit_on_their_groups_graphs_only(synthetic_mesh_graphs, monkeypatch):
    ds = synthetic_mesh_graphs
    inputs, y = _inputs(ds), ds.tensor("y").numpy()
    seen = []
    from fer_graph.models.sklearn_estimator import SklearnClassifier

    real = SklearnClassifier.fit
    monkeypatch.setattr(SklearnClassifier, "fit", lambda self, inp, yy, *, train, validation, on_epoch=None:
                        seen.append((list(self.classes_), yy[train], y[train])) or real(self, inp, yy, train=train,
                                                                                        validation=validation))
    clf = make_classifier("logreg", TrainConfig(arch="logreg", hierarchy="valence"), classes=ds.classes,
                          topology=ds.topology, dims=2)
    clf.fit(inputs, y, train=np.arange(0, 50), validation=np.arange(50, 70))
    top, negative, neutral = seen
    assert sorted(set(top[1])) == [0, 1, 2] and len(top[1]) == 50
    assert set(negative[2]) <= {0, 1, 2, 5} and sorted(set(negative[1])) == [0, 1, 2, 3]
    assert set(neutral[2]) <= {4, 6} and list(np.unique(neutral[1])) == [0, 1]


def test_a_run_with_the_hierarchy_saves_and_reports_it(tmp_path, synthetic_mesh_graphs):
    import json

    from fer_graph.training import train

    cfg = TrainConfig(arch="logreg", hierarchy="valence", folds=2)
    metrics = train(synthetic_mesh_graphs, cfg, tmp_path / "run")
    assert metrics["hierarchy"] == "valence"
    ckpts = sorted((tmp_path / "run" / "checkpoints").glob("fold_*"))
    assert [p.suffix for p in ckpts] == [".hier", ".hier"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["config"]["hierarchy"] == "valence"
