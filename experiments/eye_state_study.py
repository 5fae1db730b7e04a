"""Eye state on hand-labelled FER-2013 faces: feature sets of the ordinal model, chosen on the development
faces, scored once on the validation faces against both annotators.

Usage:
    python experiments/eye_state_study.py --root $FER_GRAPH_DATA/fer2013 --cache data/processed/fer2013_pose/landmarks \
        --out reports/eye_state [--labels experiments/eye_state_labels.csv] [--write-default]

Labels: experiments/eye_state_labels.csv (drawn by experiments/eye_state_sample.py; ``*_a`` / ``*_b`` are the
two annotators, ``x`` = cannot judge, left/right are the subject's). Development eyes (``train`` split) train
each candidate with annotator A's labels; the candidate with the highest grouped 5-fold cross-validated
quadratic kappa on them is chosen (``--write-default`` saves it, fitted on every development eye, as the
packaged default). Validation eyes (``publictest``) score every candidate, fitted on all development eyes,
against A and against B; the two annotators' agreement on the same eyes is the ceiling. Writes OUT/eye_state.md
and OUT/eye_state.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _report import write_table

from fer_graph.landmarks.eyes import EYE_FEATURES, EYE_STATES, EYES, eye_features
from fer_graph.landmarks.mediapipe_source import extract_image_folder
from fer_graph.models.eye_state import EyeStateModel
from fer_graph.training.eye_state import cross_val_states, eye_agreement

CANDIDATES = {
    "iris ratio": ("iris_ratio",),
    "EAR": ("ear",),
    "EAR + iris ratio": ("ear", "iris_ratio"),
    "blendshapes (blink, squint, wide)": ("blink", "squint", "wide"),
    "all five": EYE_FEATURES,
}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "fer_graph" / "models" / "weights" / "eye_state.json"


def eye_rows(labels: pd.DataFrame, root: Path, cache: Path, model) -> pd.DataFrame:
    """One row per labelled eye: sample_id, split, eye, label_a, label_b and the five features."""
    lms = extract_image_folder(root, cache_dir=cache, model=model, workers=0)
    where = {sid: i for i, sid in enumerate(lms.sample_ids)}
    idx = np.array([where[s] for s in labels.sample_id])
    feats = eye_features(lms.pixel_points()[idx], lms.blendshapes[idx])
    rows = []
    for k, r in enumerate(labels.itertuples()):
        for j, eye in enumerate(EYES):
            rows.append({"sample_id": r.sample_id, "split": r.split, "eye": eye, "face": k,
                         "label_a": getattr(r, f"{eye}_a"), "label_b": getattr(r, f"{eye}_b"),
                         **dict(zip(EYE_FEATURES, feats[k, j]))})
    return pd.DataFrame(rows)


def write_folders(labels: pd.DataFrame, root: Path, out: Path) -> None:
    """``out/eye_<state>/<image>`` symlinks of the development faces with both eyes labelled ``state`` by A."""
    alike = labels[(labels.split == "train") & (labels.left_a == labels.right_a) & (labels.left_a != "x")]
    for r in alike.itertuples():
        folder = out / f"eye_{r.left_a}"
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / Path(r.sample_id).name
        if not link.is_symlink():
            link.symlink_to((root / r.sample_id).resolve())
    print(f"{len(alike)} faces in {out}: {alike.left_a.value_counts().to_dict()}")


def _agree(truth, pred) -> dict:
    a = eye_agreement(list(truth), list(pred))
    return {k: a[k] for k in ("n", "accuracy", "mae_steps", "kappa_quadratic", "confusion")}


def study(eyes: pd.DataFrame) -> tuple[list[dict], dict[str, EyeStateModel]]:
    dev = eyes[(eyes.split == "train") & (eyes.label_a != "x")]
    val = eyes[eyes.split == "publictest"]
    X_dev = dev[list(EYE_FEATURES)].to_numpy()
    rows, fitted = [], {}
    for name, feats in CANDIDATES.items():
        cv = cross_val_states(X_dev, dev.label_a.to_numpy(), dev.face.to_numpy(), folds=5, features=feats)
        fitted[name] = m = EyeStateModel(feats).fit(X_dev, dev.label_a)
        row = {"model": name, "features": list(feats), "dev_cv": _agree(dev.label_a, cv)}
        for who in ("a", "b"):
            v = val[val[f"label_{who}"] != "x"]
            row[f"val_{who}"] = _agree(v[f"label_{who}"], m.predict(v[list(EYE_FEATURES)].to_numpy()))
        rows.append(row)
    both = val[(val.label_a != "x") & (val.label_b != "x")]
    dev_both = eyes[(eyes.split == "train") & (eyes.label_a != "x") & (eyes.label_b != "x")]
    rows.append({"model": "annotator B vs annotator A", "features": [], "dev_cv": _agree(dev_both.label_a, dev_both.label_b),
                 "val_a": _agree(both.label_a, both.label_b), "val_b": None})
    return rows, fitted


def scored(model: EyeStateModel, path: Path, eyes: pd.DataFrame) -> dict:
    """The validation row of a saved model (no development cross-validation: it was trained elsewhere)."""
    val = eyes[eyes.split == "publictest"]
    row = {"model": f"`{path}`", "features": list(model.features), "dev_cv": None}
    for who in ("a", "b"):
        v = val[val[f"label_{who}"] != "x"]
        row[f"val_{who}"] = _agree(v[f"label_{who}"], model.predict(v[list(EYE_FEATURES)].to_numpy()))
    return row


def table(rows: list[dict], chosen: str, eyes: pd.DataFrame) -> list[str]:
    counts = {s: eyes[eyes.split == s].label_a.value_counts().to_dict() for s in ("train", "publictest")}
    lines = [f"Eyes per label (annotator A): development {counts['train']}, validation {counts['publictest']}.", "",
             "| model | dev CV accuracy (A) | dev CV kappa (A) | val accuracy vs A | val kappa vs A | val MAE vs A "
             "| val accuracy vs B | val kappa vs B |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        nan = {"accuracy": float("nan"), "kappa_quadratic": float("nan")}
        b, dev = r["val_b"] or nan, r["dev_cv"] or nan
        mark = " **(chosen)**" if r["model"] == chosen else ""
        lines.append(f"| {r['model']}{mark} | {dev['accuracy']:.3f} | {dev['kappa_quadratic']:.3f} "
                     f"| {r['val_a']['accuracy']:.3f} | {r['val_a']['kappa_quadratic']:.3f} | {r['val_a']['mae_steps']:.3f} "
                     f"| {b['accuracy']:.3f} | {b['kappa_quadratic']:.3f} |")
    conf = next(r for r in rows if r["model"] == chosen)["val_a"]["confusion"]
    lines += ["", f"Validation confusion of the chosen model (rows: annotator A, columns: {chosen}):", "",
              "| A \\ model | " + " | ".join(EYE_STATES) + " | recall |", "|---|" + "---:|" * (len(EYE_STATES) + 1)]
    for state, row in zip(EYE_STATES, conf):
        lines.append(f"| {state} | " + " | ".join(map(str, row)) + f" | {row[EYE_STATES.index(state)] / max(sum(row), 1):.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--labels", type=Path, default=Path(__file__).with_name("eye_state_labels.csv"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--write-default", action="store_true")
    ap.add_argument("--write-folders", type=Path, default=None,
                    help="write DIR/eye_<state>/ symlinks to the development faces whose eyes annotator A labelled "
                         "alike (an input for fer-graph train-eye-state) and stop")
    ap.add_argument("--score", type=Path, action="append", default=[],
                    help="also score this eye_state.json (e.g. of train-eye-state) on the validation eyes")
    args = ap.parse_args()
    if args.write_folders is not None:
        write_folders(pd.read_csv(args.labels), args.root, args.write_folders)
        return
    eyes = eye_rows(pd.read_csv(args.labels), args.root, args.cache, args.model)
    rows, fitted = study(eyes)
    for path in args.score:
        rows.insert(-1, scored(EyeStateModel.load(path), path, eyes))
    chosen = max((r for r in rows if r["model"] in CANDIDATES), key=lambda r: r["dev_cv"]["kappa_quadratic"])["model"]
    if args.write_default:
        fitted[chosen].save(DEFAULT_OUT)
        print(f"default model ({chosen}) written to {DEFAULT_OUT}")
    write_table(args.out, "eye_state", rows, table(rows, chosen, eyes))


if __name__ == "__main__":
    main()
