"""The paper's classical models on radial feature vectors (§2.6.1), one-vs-all per class.

Each is a scikit-learn pipeline (standardise, then ``OneVsRestClassifier``) tuned by
``GridSearchCV`` on the fixed train/validation split with the paper's grids.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mxqc
from mxqc.classes import CLASSES, UNKNOWN
from mxqc.dataset import Dataset, DatasetError, dataset_normalisation
from mxqc.learn import store
from mxqc.learn.model import ClassicalModel, classical_scores
from mxqc.learn.thresholds import tune_thresholds

# name → (estimator factory, its grid as the paper gives it)
CLASSICAL_MODELS = {
    # The linear L2 SVM (hinge loss) by averaged SGD: liblinear (LinearSVC) needed 5 min per
    # class and C on 8,000 radial vectors of 1,680 values, 3.5 h for the grid; SGD takes
    # seconds. ``C`` is translated to SGD's α = 1/(C·n), the same objective ½‖w‖² + C·Σ hinge.
    "svm": (lambda seed: SGDClassifier(loss="hinge", penalty="l2", average=True, max_iter=200,
                                       tol=1e-4, random_state=seed),
            {"C": [1, 5, 10]}),
    "nb": (lambda seed: GaussianNB(), {"var_smoothing": [1e-5, 1e-7, 1e-9, 1e-10]}),
    "knn": (lambda seed: KNeighborsClassifier(), {"n_neighbors": [5, 7, 10, 15, 20, 30, 50]}),
    "rf": (lambda seed: RandomForestClassifier(random_state=seed, n_jobs=1),
           {"n_estimators": [10, 20, 50, 100, 200]}),
}


def fit_classical(kind: str, x_train, y_train, x_val, y_val, *, seed: int = 0,
                  n_jobs: int = 1, grid=None):
    """Grid-search ``kind`` on the fixed train/validation split; refit the best on train.

    The paper tuned on its validation set and reported the test set; refitting on train
    only keeps the validation set unseen for the per-class threshold tuning.

    Returns
    -------
    (Pipeline, dict) : the best pipeline fitted on train, and the search results
    (parameter → mean validation score).
    """
    if kind not in CLASSICAL_MODELS:
        raise ValueError(f"model must be one of {sorted(CLASSICAL_MODELS)}, got {kind!r}")
    make, default_grid = CLASSICAL_MODELS[kind]
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("ovr", OneVsRestClassifier(make(seed)))])
    grid = dict(grid or default_grid)
    c_of_alpha = {}
    if kind == "svm":
        c_of_alpha = {1.0 / (c * len(x_train)): c for c in grid.pop("C")}
        grid["alpha"] = list(c_of_alpha)
    if "n_neighbors" in grid:  # small data sets: k must not exceed the training set
        grid["n_neighbors"] = [k for k in grid["n_neighbors"] if k < len(x_train)] or [1]
    grid = {f"ovr__estimator__{k}": v for k, v in grid.items()}
    x = np.concatenate([x_train, x_val])
    y = np.concatenate([y_train, y_val])
    fold = np.r_[np.full(len(x_train), -1), np.zeros(len(x_val), int)]
    scoring = make_scorer(f1_score, average="macro", zero_division=0)
    search = GridSearchCV(pipeline, grid, scoring=scoring, cv=PredefinedSplit(fold),
                          refit=False, n_jobs=n_jobs, error_score="raise")
    search.fit(x, y)
    best = pipeline.set_params(**search.best_params_).fit(x_train, y_train)

    def readable(params):  # the grid as the user gave it (C, not SGD's α)
        named = {k.rsplit("__", 1)[1]: v for k, v in params.items()}
        if "alpha" in named and c_of_alpha:
            named = {"C": c_of_alpha[named.pop("alpha")], **named}
        return str(named)

    results = {readable(p): float(s) for p, s in zip(
        search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True)}
    return best, results


def train_classical(dataset: Dataset, kind: str, *, seed: int = 0,
                    centre_method: str | None = None, threshold_beta: float = 1.0,
                    n_jobs: int = 1) -> ClassicalModel:
    """Grid-search ``kind`` on ``dataset``'s radial vectors; thresholds tuned on validation."""
    started = time.perf_counter()
    x_tr, x_val = (store.radial(dataset, s, centre_method) for s in ("train", "val"))
    y_tr, y_val = (store.split_table(dataset, s).labels for s in ("train", "val"))
    if (y_tr == UNKNOWN).any():
        raise DatasetError(f"{dataset.root}: the training split has unknown (?) labels; the "
                           "classical models need every label known (a CNN masks them out)")
    pipeline, search = fit_classical(kind, x_tr, y_tr, x_val, y_val, seed=seed, n_jobs=n_jobs)
    metadata = {"kind": "classical", "model": kind, "representation": "radial",
                "classes": list(CLASSES), "grid_search": search,
                "normalisation": dataset_normalisation(dataset),
                "centre_method": store.centre_method(dataset, centre_method),
                "training_data": {"dataset": str(dataset.root), "train": len(y_tr),
                                  "val": len(y_val)},
                "mxqc_version": mxqc.__version__}
    model = ClassicalModel(pipeline, metadata)
    model.set_thresholds(tune_thresholds(y_val, classical_scores(pipeline, x_val),
                                         beta=threshold_beta))
    model.metadata["training_time_s"] = round(time.perf_counter() - started, 1)
    return model
