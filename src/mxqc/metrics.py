"""The paper's evaluation measures (§3.2), in correct and reflex-compatible definitions.

Zero-division conventions (ours, explicit):

- precision, recall, F1, F2 of a class with an empty denominator → 0.0 (as scikit-learn's
  ``zero_division=0``); MCC with a zero denominator → 0.0;
- Jaccard index of an image with no true and no predicted label → 1.0 (perfect agreement);
- ROC AUC of a class whose truth holds one value only → NaN (undefined), and such classes
  are left out of any mean.

Unknown labels (``classes.UNKNOWN``, partial labels) are left out: per-class measures use the
images where that class is known; the multi-label ones count an unknown entry as neither
true nor predicted (it adds no true or false positive or negative to precision, recall,
F-scores, the Jaccard index or the exact match), and MCC, accuracy and AUC use the known
images of each class.

Differences in ``reflex_compatible`` mode (what the original code computed; notes §6):

- F2 is the *per-image* (sample-averaged) F2, an image with no true and no predicted label
  scoring 0, and the best over thresholds 0.17…0.23 is taken;
- "AUC" is computed on the 0/1 predictions, which makes it the balanced accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import metrics as skm

from mxqc.classes import CLASSES, UNKNOWN

MULTILABEL_MEASURES = ("precision_macro", "recall_macro", "f1_macro", "f2_macro", "mcc_macro",
                       "jaccard", "exact_match")
PER_CLASS_MEASURES = ("accuracy", "precision", "recall", "f1", "auc", "false_alarm_rate")
REFLEX_F2_THRESHOLDS = (0.17, 0.18, 0.19, 0.20, 0.21, 0.22, 0.23)


def _check(y_true, y_score):
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, float)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(f"y_true and y_score must be (n_samples, n_classes) of equal shape, "
                         f"got {y_true.shape} and {y_score.shape}")
    if not np.isin(y_true, (0, 1, UNKNOWN)).all():
        raise ValueError(f"y_true must hold only 0 and 1 (or {UNKNOWN}: unknown)")
    return y_true.astype(int), y_score, y_true != UNKNOWN


def jaccard_per_image(y_true, y_pred) -> np.ndarray:
    """|T ∩ P| / |T ∪ P| per image; 1.0 when both label sets are empty."""
    inter = np.logical_and(y_true, y_pred).sum(axis=1)
    union = np.logical_or(y_true, y_pred).sum(axis=1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def _mcc(t, p) -> float:
    """Matthews correlation; 0.0 for a zero denominator (a constant truth or prediction)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(skm.matthews_corrcoef(t, p))


def multilabel_scores(y_true, y_score, *, threshold=0.5, reflex_compatible: bool = False):
    """Table 3 measures.

    Parameters
    ----------
    y_true : (n_samples, n_classes) array of {0, 1, UNKNOWN}
    y_score : (n_samples, n_classes) array
        Probabilities (or 0/1 predictions).
    threshold : float or (n_classes,) array
        A score above it counts as a positive.
    reflex_compatible : bool
        Use the original code's F2 (see module docstring).

    Returns
    -------
    dict of str → float, keys ``MULTILABEL_MEASURES``.

    Examples
    --------
    >>> t = np.array([[1, 0], [0, 1]]); p = np.array([[0.9, 0.2], [0.1, 0.4]])
    >>> multilabel_scores(t, p)["exact_match"]
    0.5
    """
    y_true, y_score, known = _check(y_true, y_score)
    y_pred = (y_score > np.asarray(threshold)).astype(int)
    mcc = float(np.mean([_mcc(y_true[known[:, j], j], y_pred[known[:, j], j])
                         for j in range(y_true.shape[1])]))
    y_true, y_pred = np.where(known, y_true, 0), np.where(known, y_pred, 0)
    per_class = dict(
        precision_macro=skm.precision_score(y_true, y_pred, average="macro", zero_division=0),
        recall_macro=skm.recall_score(y_true, y_pred, average="macro", zero_division=0),
        f1_macro=skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        f2_macro=skm.fbeta_score(y_true, y_pred, beta=2, average="macro", zero_division=0),
        mcc_macro=mcc,
        jaccard=float(jaccard_per_image(y_true, y_pred).mean()),
        exact_match=float(np.all(y_true == y_pred, axis=1).mean()),
    )
    if reflex_compatible:
        per_class["f2_macro"] = max(
            skm.fbeta_score(y_true, np.where(known, y_score > th, 0), beta=2,
                            average="samples", zero_division=0)
            for th in REFLEX_F2_THRESHOLDS)
    return {k: float(v) for k, v in per_class.items()}


def per_class_scores(y_true, y_score, *, threshold=0.5, reflex_compatible: bool = False,
                     class_names=CLASSES):
    """Tables 4/5: accuracy, precision, recall, F1 and ROC AUC per class, and the false-alarm
    rate (flagged share of the known negatives; NaN without any).

    AUC uses the probabilities (NaN when a class has only one truth value); in
    ``reflex_compatible`` mode it uses the thresholded predictions, as the original did.

    Returns
    -------
    dict of class name → dict of measure → float.
    """
    y_true, y_score, known = _check(y_true, y_score)
    if len(class_names) != y_true.shape[1]:
        raise ValueError(f"{len(class_names)} class names for {y_true.shape[1]} columns")
    thresholds = np.broadcast_to(np.asarray(threshold, float), (y_true.shape[1],))
    out = {}
    for j, name in enumerate(class_names):
        t, s = y_true[known[:, j], j], y_score[known[:, j], j]
        p = (s > thresholds[j]).astype(int)
        ranked = p if reflex_compatible else s
        auc = skm.roc_auc_score(t, ranked) if np.unique(t).size == 2 else float("nan")
        out[name] = dict(accuracy=skm.accuracy_score(t, p),
                         precision=skm.precision_score(t, p, zero_division=0),
                         recall=skm.recall_score(t, p, zero_division=0),
                         f1=skm.f1_score(t, p, zero_division=0), auc=auc,
                         false_alarm_rate=p[t == 0].mean() if np.any(t == 0) else np.nan)
        out[name] = {k: float(v) for k, v in out[name].items()}
    return out
