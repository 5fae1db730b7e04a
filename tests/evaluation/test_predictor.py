from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fer_graph.evaluation import RunNotFoundError, load_model
from fer_graph.evaluation.cross import evaluate_run
from fer_graph.training import TrainConfig, train

pytestmark = pytest.mark.mediapipe


@pytest.fixture(scope="module")
def ck48_run(tmp_path_factory, ck48_graphs):
    run = tmp_path_factory.mktemp("run")
    train(ck48_graphs, TrainConfig(arch="gcn", epochs=2, folds=2, hidden=8, layers=1), run)
    return run


def test_predict_one_ck48_image(ck48_run, ck48_subset, model_path, tmp_path):
    model = load_model(ck48_run)
    image = sorted((ck48_subset / "happy").glob("*.png"))[0]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(blank)
    probs, kept, skipped, _ = model.predict_images([image, blank], model=model_path)
    assert probs.shape == (1, 3) and kept == [str(image)]
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert [(s.path, s.reason) for s in skipped] == [(str(blank), "no_face")]


def test_evaluate_reports_classes_unknown_to_the_run(ck48_run, ck48_graphs, tmp_path):
    from fer_graph.graphs.load import load_processed

    m = evaluate_run(ck48_run, load_processed(ck48_graphs.processed_dir), tmp_path / "ev")
    assert m["absent_from_training"] == [] and m["n"] == 18


def test_bad_runs(tmp_path, ck48_run):
    with pytest.raises(RunNotFoundError, match="not a fer-graph run"):
        load_model(tmp_path / "missing")
    model = load_model(ck48_run)
    with pytest.raises(ValueError, match="468"):
        model.predict_landmarks(np.zeros((1, 68, 2)))


def test_evaluate_on_a_dataset_with_a_class_the_run_never_saw(ck48_run, ck48_subset, model_path, tmp_path):
    import shutil

    from fer_graph.graphs.image_dataset import ImageFolderGraphs

    root = tmp_path / "other"
    shutil.copytree(ck48_subset, root)
    (root / "fear").mkdir()
    from tests.conftest import CK48

    for f in sorted((CK48 / "fear").glob("*.png"))[:2]:
        shutil.copy(f, root / "fear" / f.name)
    ds = ImageFolderGraphs(tmp_path / "o", root, model=model_path, workers=0)
    m = evaluate_run(ck48_run, ds, tmp_path / "ev")
    assert m["absent_from_training"] == ["fear"] and m["n_unscorable"] == 2 and m["n"] == 18
    assert (tmp_path / "ev" / "predictions.csv").read_text().count("\n") == 21


def test_one_fold_model_and_backends(ck48_run, ck48_graphs):
    both = load_model(ck48_run)
    one = load_model(ck48_run, folds=[1])
    assert len(both.models) == 2 and len(one.models) == 1
    p_fast = one.predict_dataset(ck48_graphs)
    p_pyg = load_model(ck48_run, folds=[1], backend="pyg").predict_dataset(ck48_graphs)
    np.testing.assert_allclose(p_fast, p_pyg, atol=1e-5)
    assert not np.allclose(p_fast, both.predict_dataset(ck48_graphs))  # the ensemble averages two models
    with pytest.raises(RunNotFoundError, match="folds"):
        load_model(ck48_run, folds=[5])
