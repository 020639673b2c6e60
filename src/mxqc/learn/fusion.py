"""The fused verdict: per class a small logistic model on the CNN's logit and that class's
witness features (``mxqc.witness.FEATURES``).

Each coefficient is bounded by the sign physics gives its feature (a measured ice line can
only raise the evidence for ice; many strong spots can only lower it for strong
background), and the CNN's logit can only raise its class. The models are fitted on
frames scanned with known labels (simulated frames; ``mxqc fuse``) and stored in the
model file's metadata as JSON under ``"fusion"``, with thresholds tuned on cross-validated
fused probabilities. A model without fusion, or rows without witness features, give the
CNN's probabilities and thresholds unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import expit, logit

from mxqc.classes import CLASSES, UNKNOWN
from mxqc.errors import FusionError
from mxqc.learn.card import verdict_thresholds
from mxqc.learn.thresholds import tune_thresholds
from mxqc.witness import FEATURES

L2 = 1e-2  # ridge on the standardised coefficients: keeps rare features' weights sane
CNN_CLIP = 1e-4  # probabilities are clipped before the logit
FEATURE_CAP = 10.0  # an unbounded measurement (a module beside dead ones) counts as this


def inputs(cnn: np.ndarray, rows, name: str, *, source: str = "fusion",
           features=None) -> np.ndarray:
    """(n, k) inputs of class ``name``'s model: the CNN's logit (unless ``source`` is
    'witness') and the class's witness ``features`` (default: all its ``FEATURES``; a
    stored model names those it was fitted on) from results ``rows``."""
    columns = [] if source == "witness" else [
        logit(np.clip(cnn[:, CLASSES.index(name)], CNN_CLIP, 1 - CNN_CLIP))]
    if source != "cnn":
        names = [f for f, _ in FEATURES[name]] if features is None else features
        columns += [np.array([float(r.get(f"w_{f}") or 0.0) for r in rows]) for f in names]
    if not columns:
        return np.zeros((len(rows), 0))
    return np.nan_to_num(np.column_stack(columns), nan=0.0, posinf=FEATURE_CAP,
                         neginf=-FEATURE_CAP)


def signs(name: str, source: str = "fusion") -> np.ndarray:
    cnn = [] if source == "witness" else [1]
    return np.array(cnn + ([s for _, s in FEATURES[name]] if source != "cnn" else []), int)


def fit_logistic(x: np.ndarray, y: np.ndarray, sign: np.ndarray) -> dict:
    """Sign-bounded, lightly ridged logistic regression on standardised ``x``: a JSON-able
    dict (mean, scale, coef, intercept)."""
    from scipy.optimize import minimize  # fitting only: scanning need not import it

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    target = y.astype(float)

    def loss(params):
        w, b = params[:-1], params[-1]
        margin = z @ w + b
        p = expit(margin)
        value = np.mean(np.logaddexp(0, margin) - target * margin) + L2 * w @ w / 2
        grad = z.T @ (p - target) / len(target) + L2 * w
        return value, np.r_[grad, np.mean(p - target)]

    bounds = [(0, None) if s > 0 else (None, 0) if s < 0 else (None, None) for s in sign]
    start = np.zeros(z.shape[1] + 1)
    start[-1] = logit(np.clip(target.mean(), 0.01, 0.99))
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[*bounds, (None, None)])
    return {"mean": mean.tolist(), "scale": scale.tolist(),
            "coef": result.x[:-1].tolist(), "intercept": float(result.x[-1])}


def predict_logistic(spec: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(spec["mean"])) / np.asarray(spec["scale"])
    return expit(z @ np.asarray(spec["coef"]) + spec["intercept"])


def fit_fusion(cnn: np.ndarray, rows, truth: np.ndarray, *, source: str = "fusion",
               folds: int = 5, seed: int = 0) -> tuple[dict, np.ndarray]:
    """Per-class models of ``source`` fitted on all frames, and the out-of-fold
    probabilities (n, 7) their thresholds are tuned on; returns (spec, probabilities)."""
    fold = np.random.default_rng(seed).permutation(len(rows)) % folds
    spec, probs = {"source": source, "classes": {}}, np.zeros(truth.shape, float)
    for j, name in enumerate(CLASSES):
        x, y, sign = inputs(cnn, rows, name, source=source), truth[:, j], signs(name, source)
        known = y != UNKNOWN
        if x.shape[1] == 0 or len(np.unique(y[known])) < 2:
            probs[:, j] = cnn[:, j] if source != "witness" else 0.0
            continue
        for k in range(folds):
            train = known & (fold != k)
            probs[fold == k, j] = predict_logistic(fit_logistic(x[train], y[train], sign),
                                                   x[fold == k])
        spec["classes"][name] = {"features": [f for f, _ in FEATURES[name]]
                                 if source != "cnn" else [], **fit_logistic(x[known], y[known],
                                                                             sign)}
    spec["thresholds"] = tune_thresholds(truth, probs).tolist()
    return spec, probs


def apply_fusion(spec: dict, cnn: np.ndarray, rows) -> np.ndarray:
    """(n, 7) probabilities of a fitted ``spec`` (classes it has no model for keep the
    CNN's)."""
    out = np.array(cnn, float, copy=True)
    for name, model in spec["classes"].items():
        x = inputs(cnn, rows, name, source=spec.get("source", "fusion"),
                   features=model["features"])
        out[:, CLASSES.index(name)] = predict_logistic(model, x)
    return out


def fused_probabilities(model, cnn: np.ndarray, rows, views: int = 1
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, thresholds), both (n, 7), for results ``rows`` whose CNN
    probabilities (averaged over ``views`` test-time views) are ``cnn``: fused for the rows
    with witness features where the model carries a fusion, the CNN's (and its thresholds)
    for the others."""
    spec = model.metadata["fusion"]
    witnessed = np.array([r.get("w_spots") is not None for r in rows], bool)
    thresholds = np.array([effective_thresholds(model, w, views)
                           for w in witnessed]).reshape(-1, 7)
    if not spec or not witnessed.any():
        return cnn, thresholds
    probs = np.array(cnn, float, copy=True)
    probs[witnessed] = apply_fusion(spec, cnn[witnessed], [r for r, w in zip(rows, witnessed,
                                                                              strict=True) if w])
    return probs, thresholds


def effective_thresholds(model, witnessed: bool, views: int = 1) -> np.ndarray:
    """The per-class thresholds a frame's verdict uses (``card.verdict_thresholds``)."""
    return np.asarray(verdict_thresholds(model.metadata, witnessed, views), float)


def labelled_rows(scan_dir, labels_path=None) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """The analysed rows of a scan of labelled frames, their labels (n, 7) and the CNN's
    probabilities (n, 7). Labels come from ``labels_path`` or the ``labels.csv`` beside
    the frames (as ``mxqc simulate`` writes it), matched by file name."""
    from mxqc.dataset import read_labels
    from mxqc.scan.results import Journal

    rows = [r for r in Journal(scan_dir).rows() if r.ok]
    if not rows:
        raise FusionError(f"{scan_dir}: no analysed frames in its journal")
    if any(r.w_spots is None for r in rows):
        raise FusionError(f"{scan_dir}: scanned without witnesses (scan again without "
                          "--no-witnesses)")
    path = Path(labels_path) if labels_path else Path(rows[0]["file"]).parent / "labels.csv"
    table = read_labels(path)
    index = {name: i for i, name in enumerate(table.names)}

    def key(row):  # label files name frames with or without the file's suffixes
        name = Path(row["file"]).name
        return name if name in index else name.split(".")[0]

    # in file order, not the order the workers finished in: the folds, and so the tuned
    # thresholds, are then the same for every scan of the same frames
    rows = sorted((r for r in rows if key(r) in index), key=lambda r: (r["file"], r["frame"]))
    if not rows:
        raise FusionError(f"{path}: labels none of the scanned frames")
    truth = np.stack([table.labels[index[key(r)]] for r in rows])
    cnn = np.array([[r.get(f"p_cnn_{c}", r[f"p_{c}"]) for c in CLASSES] for r in rows], float)
    return rows, truth, cnn


def scan_scores(models, rows, truth: np.ndarray, cnn: np.ndarray) -> dict[str, dict]:
    """Score tables (``evaluate.score_table``) of each source on a scan of labelled frames
    (``labelled_rows``): the network alone, at its own thresholds; the witnesses alone,
    fitted out of fold on these frames (a model file carries no witness-only fit); and the
    fusion of each of ``models`` ((name, model) pairs) as stored, at its thresholds. The
    network's probabilities are the scan's, so each model must be the one that scanned."""
    scanned = {r.model for r in rows}
    for name, model in models:
        if scanned != {model.name}:
            raise FusionError(f"the frames were scanned with {', '.join(sorted(scanned))}, "
                              f"not {name} ({model.name}): its network would answer "
                              "differently; scan them again with --model")
    from mxqc.learn.evaluate import score_table  # sklearn: not for scanning

    network = models[0][1]
    named = {"cnn": score_table(truth, cnn, effective_thresholds(network, False))}
    spec, probs = fit_fusion(cnn, rows, truth, source="witness")
    named["witness (out of fold)"] = score_table(truth, probs, spec["thresholds"])
    for name, model in models:
        if model.metadata.get("fusion"):
            label = "fusion" if len(models) == 1 else f"fusion: {name}"
            named[label] = score_table(truth, apply_fusion(model.metadata["fusion"], cnn, rows),
                                       effective_thresholds(model, True))
    return named
