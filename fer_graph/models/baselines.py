"""Classical baselines on the same data path and folds as the GNNs (scikit-learn estimators).

Coordinate baselines see the flattened node features (plus graph attributes when the feature spec has
them); ``dist-pca-svm`` sees each landmark's distance to the face centroid instead of its coordinates;
blendshape baselines see only the 52 MediaPipe blendshape scores. Each builder returns an
unfitted estimator; its registered ``grid`` is searched on inner validation subjects (never on the test
fold) by :class:`~fer_graph.models.sklearn_estimator.SklearnClassifier`.
"""

from __future__ import annotations

from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .registry import register_model

__all__ = ["logreg", "mlp", "svm", "pca_svm", "dist_pca_svm", "blendshape_svm", "blendshape_rf", "blendshape_gb"]


@register_model("logreg", kind="sklearn", description="logistic regression on flattened normalized coordinates",
                grid={"clf__C": [0.01, 0.1, 1.0]})
def logreg(*, seed: int = 0, class_weight: str | None = None) -> Pipeline:
    est = Pipeline([("scale", StandardScaler()),
                    ("clf", LogisticRegression(max_iter=3000, class_weight=class_weight, random_state=seed))])
    return est


@register_model("mlp", kind="sklearn", description="MLP (256-128, early stopping) on flattened coordinates",
                grid={"clf__alpha": [1e-3, 1e-1]})
def mlp(*, seed: int = 0, class_weight: str | None = None) -> Pipeline:
    est = Pipeline([("scale", StandardScaler()),
                    ("clf", MLPClassifier(hidden_layer_sizes=(256, 128), alpha=1e-3, early_stopping=True,
                                          max_iter=500, random_state=seed))])
    return est


@register_model("svm", kind="sklearn", description="RBF-SVM on flattened normalized coordinates",
                grid={"clf__C": [1.0, 10.0]})
def svm(*, seed: int = 0, class_weight: str | None = None) -> Pipeline:
    est = Pipeline([("scale", StandardScaler()),
                    ("clf", SVC(kernel="rbf", gamma="scale", class_weight=class_weight, random_state=seed))])
    return est


@register_model("pca-svm", kind="sklearn", description="PCA(50) + RBF-SVM on flattened coordinates",
                grid={"clf__C": [1.0, 10.0]})
def pca_svm(*, seed: int = 0, class_weight: str | None = None) -> Pipeline:
    est = Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components=50, random_state=seed)),
                    ("clf", SVC(kernel="rbf", gamma="scale", class_weight=class_weight, random_state=seed))])
    return est


@register_model("dist-pca-svm", kind="sklearn", inputs="distances",
                description="landmark-to-centroid distances, PCA(50), standardized, RBF-SVM (C=5)")
def dist_pca_svm(*, seed: int = 0, class_weight: str | None = None) -> Pipeline:
    """The distance recipe of landmark-SVM expression projects (P. van Gent, "Emotion recognition using
    facial landmarks", 2016: distances to the centre of gravity), with PCA to 50 components, then
    StandardScaler and an RBF-SVM with C=5, fixed (no grid search), as that recipe sets them."""
    est = Pipeline([("pca", PCA(n_components=50, random_state=seed)), ("scale", StandardScaler()),
                    ("clf", SVC(kernel="rbf", C=5.0, gamma="scale", class_weight=class_weight, random_state=seed))])
    return est


@register_model("blendshape-svm", kind="sklearn", description="RBF-SVM on the 52 blendshapes",
                needs=("blendshapes",), grid={"clf__C": [1.0, 10.0]})
def blendshape_svm(*, seed: int = 0, class_weight: str | None = None) -> Pipeline:
    est = Pipeline([("scale", StandardScaler()),
                    ("clf", SVC(kernel="rbf", gamma="scale", class_weight=class_weight, random_state=seed))])
    return est


@register_model("blendshape-rf", kind="sklearn", description="random forest on the 52 blendshapes",
                needs=("blendshapes",), grid={"min_samples_leaf": [1, 3]})
def blendshape_rf(*, seed: int = 0, class_weight: str | None = None) -> RandomForestClassifier:
    est = RandomForestClassifier(n_estimators=300, class_weight=class_weight, n_jobs=-1, random_state=seed)
    return est


@register_model("blendshape-gb", kind="sklearn", description="HistGradientBoosting on the 52 blendshapes",
                needs=("blendshapes",), grid={"learning_rate": [0.05, 0.1]})
def blendshape_gb(*, seed: int = 0, class_weight: str | None = None) -> HistGradientBoostingClassifier:
    est = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, early_stopping=True,
                                         class_weight=class_weight, random_state=seed)
    return est
