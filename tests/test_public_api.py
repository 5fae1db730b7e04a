"""Every name a module exports in ``__all__`` really imports (sklearn once shipped a broken one), and the
top-level entry points work on a real run."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import fer_graph

MODULES = sorted(["fer_graph"] + [m.name for m in pkgutil.walk_packages(fer_graph.__path__, "fer_graph.")])
#: top-level package or first-level subpackage / module -> every module under it
GROUPS: dict[str, list[str]] = {}
for _m in MODULES:
    GROUPS.setdefault(".".join(_m.split(".")[:2]), []).append(_m)


def test_the_walk_finds_every_subpackage_and_key_module():
    for name in ("fer_graph.landmarks", "fer_graph.graphs", "fer_graph.labels", "fer_graph.exceptions",
                 "fer_graph.cli", "fer_graph.occlusion", "fer_graph.models", "fer_graph.training",
                 "fer_graph.evaluation", "fer_graph.graphs.synthetic", "fer_graph.models.estimator",
                 "fer_graph.evaluation.occlusion", "fer_graph.evaluation.sweep", "fer_graph.evaluation.study"):
        assert name in MODULES, name


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_all_names_import(group):
    for name in GROUPS[group]:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", [])
        assert len(names) == len(set(names)), f"{name}.__all__ lists a name twice"
        for attr in names:
            assert getattr(module, attr, None) is not None, f"{name}.__all__ lists {attr!r} but it does not exist"
        namespace: dict = {}
        exec(f"from {name} import *", namespace)  # star-import resolves every listed name (lazy ones too)
        assert set(names) <= set(namespace), name


def test_top_level_exports():
    assert fer_graph.__all__ == ["__version__", "load_model", "run_occlusion_study"]
    assert fer_graph.__version__.count(".") == 2


def test_load_model_on_a_trained_run(ibug_runs):
    from fer_graph.evaluation import ExpressionModel
    from fer_graph.evaluation.predictor import load_fold_models
    from fer_graph.models.estimator import ModelInputs

    ds, runs = ibug_runs
    for name in ("gat", "logreg"):
        model = fer_graph.load_model(runs / name, folds=[0])
        assert isinstance(model, ExpressionModel) and len(model.models) == 1
        assert model.classes == ds.classes and model.topology.name == "ibug68"
        assert str(model.features) == "apex+disp"
        probs = model.predict_dataset(ds)
        assert probs.shape == (len(ds), 6)
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
        fold0 = load_fold_models(runs / name, folds=[0])[0][0]
        inputs = ModelInputs.from_dataset(ds, model.features)
        np.testing.assert_allclose(probs, fold0.predict_proba(inputs), atol=1e-6)
        both = fer_graph.load_model(runs / name)
        assert len(both.models) == 2
        np.testing.assert_allclose(both.predict_dataset(ds), (probs + load_fold_models(
            runs / name, folds=[1])[0][1].predict_proba(inputs)) / 2, atol=1e-5)
