"""Shared fixtures: locations of the real data and model, small real subsets of them, synthetic data sets
that need neither, and small runs trained on the synthetic data.

``FER_GRAPH_FACE_LANDMARKER`` set to an empty string means "no Face Landmarker model": the tests that
need the model file then skip, as on a machine without it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# as the fer-graph command does (fer_graph.runtime.configure), before anything loads torch: OpenMP's default
# busy-waiting stalls small training steps many times over on a loaded 2-core machine
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("fer", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("fer")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FER_GRAPH_SHARED", REPO.parent / "shared"))
DATA = Path(os.environ.get("FER_GRAPH_DATA") or SHARED / "data")
CK_LANDS = DATA / "ck_lands" / "CK+"
CK48 = DATA / "ck48"
FER2013 = DATA / "fer2013"
_MODEL_ENV = os.environ.get("FER_GRAPH_FACE_LANDMARKER")
MODEL: Path | None = (SHARED / "models" / "face_landmarker.task" if _MODEL_ENV is None
                      else Path(_MODEL_ENV) if _MODEL_ENV.strip() else None)
FIXTURES = Path(__file__).parent / "data"


def need(path: Path | None) -> Path:
    if path is None:
        pytest.skip("no Face Landmarker model (FER_GRAPH_FACE_LANDMARKER is empty)")
    if not path.exists():
        pytest.skip(f"real data not available: {path} (set FER_GRAPH_DATA / FER_GRAPH_FACE_LANDMARKER)")
    return path


def have(path: Path | None) -> bool:
    """Whether a real data folder or the model file is there (for ``skipif`` marks)."""
    return path is not None and path.exists()


@pytest.fixture(scope="session")
def ck_lands_root() -> Path:
    """The full real CK+ lands folder (357 labelled sequences)."""
    return need(CK_LANDS)


@pytest.fixture
def ck_lands_subset(tmp_path: Path, ck_lands_root: Path) -> Path:
    """A small real CK+ lands folder: 4 subjects with their emotion.csv rows (16 labelled sequences)."""
    subjects = ["S005", "S010", "S011", "S122"]
    root = tmp_path / "CK+"
    root.mkdir()
    lines = (ck_lands_root / "emotion.csv").read_text().splitlines()
    keep = [lines[0]] + [ln for ln in lines[1:] if ln.split(";")[0] in subjects]
    (root / "emotion.csv").write_text("\n".join(keep) + "\n")
    for s in subjects:
        shutil.copytree(ck_lands_root / s, root / s)
    return root


@pytest.fixture(scope="session")
def model_path() -> Path:
    return need(MODEL)


@pytest.fixture(scope="session")
def ck48_subset(tmp_path_factory) -> Path:
    """A small real CK+48 tree: 3 labels x 6 images (2 frames of 3 subjects each)."""
    src = need(CK48)
    root = tmp_path_factory.mktemp("ck48") / "ck48"
    for label in ("happy", "surprise", "sadness"):
        files = sorted((src / label).glob("*.png"))
        chosen, subjects = [], []
        for f in files:
            s = f.name.split("_")[0]
            if s not in subjects and len(subjects) < 3:
                subjects.append(s)
            if s in subjects and sum(c.name.startswith(s) for c in chosen) < 2:
                chosen.append(f)
        (root / label).mkdir(parents=True)
        for f in chosen:
            shutil.copy(f, root / label / f.name)
    return root


@pytest.fixture(scope="session")
def ck48_graphs(tmp_path_factory, ck48_subset, model_path):
    from fer_graph.graphs.image_dataset import ImageFolderGraphs

    return ImageFolderGraphs(tmp_path_factory.mktemp("ck48_out"), ck48_subset, model=model_path, workers=0)


# ------------------------------------------------------------------ synthetic data (no private files needed)
@pytest.fixture(scope="session")
def synthetic_ck_lands(tmp_path_factory) -> Path:
    """A synthetic CK+ lands folder (:func:`fer_graph.graphs.synthetic.write_ck_lands`): 12 subjects x the
    6 CK+ lands classes, one 2-frame sequence (onset + apex) each: 72 labelled sequences."""
    from fer_graph.graphs.synthetic import make_face_landmarks, write_ck_lands

    return write_ck_lands(tmp_path_factory.mktemp("synthetic_ck") / "CK+", make_face_landmarks(12, rng=0))


@pytest.fixture(scope="session")
def synthetic_ibug_graphs(tmp_path_factory, synthetic_ck_lands):
    """:class:`~fer_graph.graphs.CKLandsGraphs` of ``synthetic_ck_lands``: 72 graphs of 68 nodes with
    ``onset``, 12 subjects, 6 classes, subject k-fold protocol."""
    from fer_graph.graphs import CKLandsGraphs

    return CKLandsGraphs(tmp_path_factory.mktemp("synthetic_ck_out"), synthetic_ck_lands)


@pytest.fixture(scope="session")
def synthetic_mesh_graphs(tmp_path_factory):
    """:class:`~fer_graph.graphs.synthetic.LandmarkSetGraphs`: 70 graphs of 468 nodes (2-D features), 10
    subjects x 7 FER-2013 classes, with ``blendshapes``, ``transform`` and ``head_pose``; subject k-fold."""
    from fer_graph.graphs.synthetic import LandmarkSetGraphs, make_face_landmarks

    lms = make_face_landmarks(10, topology="mediapipe468", rng=1)
    return LandmarkSetGraphs(tmp_path_factory.mktemp("synthetic_mesh"), lms, name="synthetic_mesh")


@pytest.fixture(scope="session")
def synthetic_mesh_holdout(tmp_path_factory):
    """Like ``synthetic_mesh_graphs`` with 12 subjects and FER-2013 style splits: 63 ``train`` graphs (9
    subjects) and 21 ``publictest`` (3 subjects), so training uses the hold-out protocol."""
    from fer_graph.graphs.synthetic import LandmarkSetGraphs, make_face_landmarks

    lms = make_face_landmarks(12, topology="mediapipe468", split="holdout", rng=2)
    return LandmarkSetGraphs(tmp_path_factory.mktemp("synthetic_holdout"), lms, name="synthetic_holdout")


@pytest.fixture
def ck_lands_small(tmp_path: Path) -> Path:
    """A fresh synthetic CK+ lands folder the test may edit: 4 subjects (S001-S004) x the 6 CK+ lands
    classes, each sequence an onset row and 3 expression frames (24 labelled sequences, 4 rows each)."""
    from fer_graph.graphs.synthetic import make_face_landmarks, write_ck_lands

    return write_ck_lands(tmp_path / "CK+", make_face_landmarks(4, frames=3, rng=3))


SMALL_GNN = dict(epochs=3, folds=2, hidden=16, layers=2, batch_size=8)


@pytest.fixture(scope="session")
def ibug_runs(tmp_path_factory, synthetic_ibug_graphs):
    """``(dataset, folder)``: ``synthetic_ibug_graphs`` and three 2-fold runs trained on it in
    ``folder/gat``, ``folder/gat_mask`` (mask_augment 0.5) and ``folder/logreg``."""
    from fer_graph.training import TrainConfig, train

    tmp = tmp_path_factory.mktemp("ibug_runs")
    ds = synthetic_ibug_graphs
    train(ds, TrainConfig(arch="gat", **SMALL_GNN), tmp / "gat")
    train(ds, TrainConfig(arch="gat", mask_augment=0.5, **SMALL_GNN), tmp / "gat_mask")
    train(ds, TrainConfig(arch="logreg", folds=2), tmp / "logreg")
    return ds, tmp


@pytest.fixture(scope="session")
def mesh_run(tmp_path_factory, synthetic_mesh_graphs) -> Path:
    """A 2-fold GCN run (2 epochs, hidden 8) on ``synthetic_mesh_graphs`` (features apex+blendshapes)."""
    from fer_graph.training import TrainConfig, train

    run = tmp_path_factory.mktemp("mesh_run") / "gcn"
    train(synthetic_mesh_graphs, TrainConfig(arch="gcn", epochs=2, folds=2, hidden=8, layers=1), run)
    return run
