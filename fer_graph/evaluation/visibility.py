"""Scores of a per-landmark visibility estimate: ROC-AUC and F1 of *hidden*, overall and per face region."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..occlusion.regions import get_region, list_regions

__all__ = ["hidden_scores", "visibility_report"]

#: Regions reported by :func:`visibility_report` (:func:`fer_graph.occlusion.regions.list_regions` names).
REPORT_REGIONS = ("eyes", "brows", "nose", "mouth", "lower_face", "upper_face", "left_half", "right_half", "jaw")


def hidden_scores(p_visible: np.ndarray, hidden: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """ROC-AUC, F1, precision and recall of *hidden* (score ``1 - p_visible``), pooled over every entry.

    Shapes: p_visible ``(N, V)`` float, hidden ``(N, V)`` bool. ``auc`` is NaN when one class is absent;
    ``hidden_rate`` is the fraction of true hidden entries, ``flagged_rate`` the fraction predicted hidden.
    """
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    y, score = np.asarray(hidden, bool).ravel(), 1.0 - np.asarray(p_visible, np.float64).ravel()
    pred = score > 1.0 - threshold
    out = {"n": int(y.size), "hidden_rate": float(y.mean()) if y.size else float("nan"),
           "flagged_rate": float(pred.mean()) if y.size else float("nan"),
           "auc": float(roc_auc_score(y, score)) if 0 < y.sum() < y.size else float("nan")}
    if y.any():
        out.update(f1=float(f1_score(y, pred, zero_division=0)), precision=float(precision_score(y, pred, zero_division=0)),
                   recall=float(recall_score(y, pred, zero_division=0)))
    return out


def visibility_report(p_visible: np.ndarray, hidden: np.ndarray, families: Sequence[str], topology: str, *,
                      threshold: float = 0.5, regions: Sequence[str] = REPORT_REGIONS) -> dict:
    """:func:`hidden_scores` for all samples, per occluder family and per region (the region's landmarks of
    every occluded sample).

    Shapes: p_visible, hidden ``(N, V)``; families ``N`` names (``"clean"`` for unoccluded faces).

    Returns:
        ``{"all": scores, "families": {family: scores}, "regions": {region: scores}}``.

    Raises:
        ValueError: shapes disagree; an unknown region.
    """
    p, h, fam = np.asarray(p_visible), np.asarray(hidden, bool), np.asarray(families, dtype=str)
    if p.shape != h.shape or len(fam) != len(h):
        raise ValueError(f"visibility_report: p_visible {p.shape}, hidden {h.shape}, {len(fam)} families disagree")
    known = set(list_regions())
    if set(regions) - known:
        raise ValueError(f"visibility_report: unknown regions {sorted(set(regions) - known)}")
    occluded = fam != "clean"
    out = {"all": hidden_scores(p, h, threshold),
           "families": {f: hidden_scores(p[fam == f], h[fam == f], threshold) for f in sorted(set(fam.tolist()))},
           "regions": {}}
    for r in regions:
        nodes = get_region(r, topology)
        out["regions"][r] = hidden_scores(p[occluded][:, nodes], h[occluded][:, nodes], threshold)
    return out
