"""GNN fits that keep the last epoch (``TrainConfig.keep="last"``) and refits on all training subjects."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.config import TrainConfig
from fer_graph.graphs.features import FeatureSpec
from fer_graph.models.estimator import ModelInputs, make_classifier

_SMALL = dict(epochs=3, hidden=8, layers=1, heads=2, node_embedding=0, augment=False, seed=2)
_TRAIN, _VAL = np.arange(50), np.arange(50, 70)
_NONE = np.array([], dtype=np.int64)


def _fit(ds, *, train=_TRAIN, validation=_VAL, refit=False, **kw):
    inputs = ModelInputs.from_dataset(ds, FeatureSpec.parse("apex+blendshapes"))
    clf = make_classifier("gat", TrainConfig(**{**_SMALL, **kw}), classes=ds.classes, topology=ds.topology,
                          dims=2, refit=refit)
    return clf.fit(inputs, ds.tensor("y").numpy(), train=train, validation=validation), inputs


def test_keep_last_keeps_the_final_weights_and_scores_them_on_validation(synthetic_mesh_graphs):
    ds = synthetic_mesh_graphs
    y = ds.tensor("y").numpy()
    last, inputs = _fit(ds, keep="last")
    blind, _ = _fit(ds, keep="last", validation=_NONE)  # validation is only measured: same weights without it
    np.testing.assert_allclose(last.predict_proba(inputs), blind.predict_proba(inputs), atol=1e-6)
    info = last.fit_info_
    assert info["best_epoch"] == info["epochs"] == 3 and len(info["logs"]) == 3
    measured = float((last.predict_proba(inputs.take(_VAL)).argmax(1) == y[_VAL]).mean())
    assert info["val_accuracy"] == info["val_accuracy_last"] == pytest.approx(measured)
    assert blind.fit_info_["val_accuracy"] is None


def test_refit_with_keep_last_is_one_fit_on_train_and_validation(synthetic_mesh_graphs):
    ds = synthetic_mesh_graphs
    refit, inputs = _fit(ds, keep="last", refit=True)
    direct, _ = _fit(ds, keep="last", train=np.arange(70), validation=_NONE)
    np.testing.assert_allclose(refit.predict_proba(inputs), direct.predict_proba(inputs), atol=1e-6)
    assert refit.fit_info_["epochs"] == 3 and refit.fit_info_["val_accuracy"] is None


def test_refit_after_early_stopping_retrains_for_the_chosen_epochs(synthetic_mesh_graphs):
    clf, _ = _fit(synthetic_mesh_graphs, refit=True)
    info = clf.fit_info_
    best = max(info["logs"], key=lambda l: (l.val_accuracy, -l.val_loss))
    assert info["best_epoch"] == best.epoch and info["epochs"] == 3 + best.epoch
    assert info["val_accuracy"] == pytest.approx(best.val_accuracy)
    assert info["val_accuracy_last"] == pytest.approx(info["logs"][-1].val_accuracy)


def test_keep_must_be_best_or_last():
    with pytest.raises(ValueError, match="keep='first'"):
        TrainConfig(keep="first")
