"""Per-class decision thresholds tuned on validation predictions."""

from __future__ import annotations

import numpy as np

from mxqc.classes import UNKNOWN

CANDIDATES = np.round(np.arange(0.02, 0.985, 0.01), 2)


def _fbeta(t: np.ndarray, p: np.ndarray, beta: float) -> np.ndarray:
    """F-beta of each column of the (k, n) prediction matrix ``p`` against truth ``t``."""
    tp = (p & t).sum(axis=1)
    fp = (p & ~t).sum(axis=1)
    fn = (~p & t).sum(axis=1)
    b2 = beta * beta
    denom = (1 + b2) * tp + b2 * fn + fp
    return np.where(denom > 0, (1 + b2) * tp / np.maximum(denom, 1), 0.0)


def tune_thresholds(y_true, scores, *, beta: float = 1.0) -> np.ndarray:
    """(n_classes,) thresholds maximising each class's F-beta on (y_true, scores).

    Ties go to the candidate nearest 0.5; a class with no positives keeps 0.5. Unknown labels
    (``UNKNOWN``) are left out.

    Examples
    --------
    >>> t = np.array([[1], [1], [0], [0]]); s = np.array([[0.9], [0.3], [0.2], [0.1]])
    >>> float(tune_thresholds(t, s)[0]) < 0.3
    True
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, float)
    out = np.full(y_true.shape[1], 0.5)
    for j in range(y_true.shape[1]):
        known = y_true[:, j] != UNKNOWN
        t = y_true[known, j] == 1
        if not t.any():
            continue
        f = _fbeta(t, scores[None, known, j] > CANDIDATES[:, None], beta)
        best = np.flatnonzero(f >= f.max() - 1e-12)
        out[j] = CANDIDATES[best[np.argmin(np.abs(CANDIDATES[best] - 0.5))]]
    return out
