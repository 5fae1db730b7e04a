"""Seed ensembles of GNNs (``TrainConfig.members``): members, averaging, save / load, parallel fits."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from fer_graph.config import TrainConfig
from fer_graph.graphs.features import FeatureSpec
from fer_graph.models.ensemble import ProbabilityAverage
from fer_graph.models.estimator import ModelInputs, load_classifier, make_classifier

_SMALL = dict(epochs=2, hidden=8, layers=1, heads=2, node_embedding=0, augment=False)


def _fit(ds, inputs, **kw):
    clf = make_classifier("gat", TrainConfig(**_SMALL, **kw), classes=ds.classes, topology=ds.topology, dims=2)
    return clf.fit(inputs, ds.tensor("y").numpy(), train=np.arange(50), validation=np.arange(50, 70))


def test_an_ensemble_averages_the_probabilities_of_its_seeds(tmp_path, synthetic_mesh_graphs):
    ds = synthetic_mesh_graphs
    inputs = ModelInputs.from_dataset(ds, FeatureSpec.parse("apex+blendshapes"))
    y = ds.tensor("y").numpy()
    singles = [_fit(ds, inputs, seed=s) for s in (3, 4, 5)]
    ens = _fit(ds, inputs, seed=3, members=3)
    assert isinstance(ens.module_, ProbabilityAverage) and ens.members_ == 3
    mean = np.mean([c.predict_proba(inputs) for c in singles], axis=0)
    probs = ens.predict_proba(inputs)
    np.testing.assert_allclose(probs, mean, atol=1e-5)
    assert not np.allclose(singles[0].predict_proba(inputs), singles[1].predict_proba(inputs))
    info = ens.fit_info_
    assert [m["seed"] for m in info["members"]] == [3, 4, 5]
    assert [m["val_accuracy"] for m in info["members"]] == [c.fit_info_["val_accuracy"] for c in singles]
    assert info["val_accuracy"] == pytest.approx(float((probs[50:70].argmax(1) == y[50:70]).mean()))
    assert info["n_parameters"] == 3 * singles[0].fit_info_["n_parameters"]
    loaded, meta = load_classifier(ens.save(tmp_path / "ens", {"topology": "mediapipe468",
                                                               "features": "apex+blendshapes", "node_dims": 2}))
    assert meta["members"] == 3 and loaded.members_ == 3
    np.testing.assert_allclose(loaded.predict_proba(inputs), probs, atol=1e-6)
    again = pickle.loads(pickle.dumps(ens))  # worker processes pickle fitted classifiers
    np.testing.assert_allclose(again.predict_proba(inputs), probs, atol=1e-6)
    # fine-tuning from an ensemble checkpoint starts from its first member (learning rate 0: stays there)
    tuned = _fit(ds, inputs, seed=9, lr=0.0, init_from=str(tmp_path / "ens.pt"))
    np.testing.assert_allclose(tuned.predict_proba(inputs), singles[0].predict_proba(inputs), atol=1e-5)


def test_members_are_for_gnns_and_at_least_one():
    with pytest.raises(ValueError, match="members=0"):
        TrainConfig(members=0)
    from fer_graph.graphs.topology import get_topology

    with pytest.raises(ValueError, match="seed ensembles are for GNNs"):
        make_classifier("logreg", TrainConfig(arch="logreg", members=2), classes=["a", "b"],
                        topology=get_topology("ibug68"), dims=2)


def test_parallel_members_give_the_sequential_ensemble(tmp_path, synthetic_mesh_graphs):
    from fer_graph.training import train

    cfg = TrainConfig(**_SMALL, folds=2, members=2, features="apex+blendshapes")
    seq = train(synthetic_mesh_graphs, cfg, tmp_path / "seq")
    par = train(synthetic_mesh_graphs, cfg, tmp_path / "par", workers=2)
    assert [f["accuracy"] for f in par["per_fold"]] == pytest.approx([f["accuracy"] for f in seq["per_fold"]])
    assert [f["val_accuracy"] for f in par["per_fold"]] == pytest.approx([f["val_accuracy"] for f in seq["per_fold"]])
    meta = json.loads((tmp_path / "par" / "config.json").read_text())
    assert meta["config"]["members"] == 2
    loaded, m = load_classifier(tmp_path / "par" / "checkpoints" / "fold_00.pt")
    assert m["members"] == 2 and isinstance(loaded.module_, ProbabilityAverage)
