"""The paper's tables (3: multi-label; 4/5: per class) and curves, for a model on a split."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import sklearn.metrics as skm

from mxqc.classes import CLASSES, UNKNOWN
from mxqc.dataset import Dataset
from mxqc.learn import store
from mxqc.learn.model import Model
from mxqc.metrics import (
    MULTILABEL_MEASURES,
    PER_CLASS_MEASURES,
    multilabel_scores,
    per_class_scores,
)


def predict_split(model: Model, dataset: Dataset, split: str = "test", *,
                  centre_method: str | None = None, views: int = 1
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(truth, scores) of ``model`` on a split, averaged over ``views`` test-time views;
    centres as the model was trained with."""
    truth = store.split_table(dataset, split).labels
    images = store.images(dataset, split)
    centres = None
    if model.needs_centre:
        centres = store.centres(dataset, split, centre_method or model.metadata[
            "centre_method"])
    scores = np.concatenate([model.predict_proba(images[i:i + 256],
                                                 None if centres is None else
                                                 centres[i:i + 256], views=views)
                             for i in range(0, len(images), 256)])
    return truth, scores


def tune_model_thresholds(model: Model, dataset: Dataset, split: str = "val", *,
                          beta: float = 1.0) -> None:
    """Tune ``model``'s thresholds on a labelled split (for every number of test-time
    views a Cartesian CNN allows) and record where they came from."""
    truth = store.split_table(dataset, split).labels
    centres = None
    if model.needs_centre:
        centres = store.centres(dataset, split, model.metadata["centre_method"])
    model.tune_thresholds(store.images(dataset, split), truth, centres, beta=beta)
    model.metadata["thresholds_tuning"] = {"dataset": str(dataset.root), "split": split,
                                           "frames": len(truth), "beta": beta}


def score_table(truth, scores, thresholds) -> dict:
    """Both definitions of every measure: ours ('mxqc') and the original code's ('reflex')."""
    return {"multilabel": {"mxqc": multilabel_scores(truth, scores, threshold=thresholds),
                           "reflex": multilabel_scores(truth, scores, threshold=thresholds,
                                                       reflex_compatible=True)},
            "per_class": {"mxqc": per_class_scores(truth, scores, threshold=thresholds),
                          "reflex": per_class_scores(truth, scores, threshold=thresholds,
                                                     reflex_compatible=True)}}


def record_test_metrics(model: Model, dataset: Dataset, split: str = "test") -> dict:
    """Score ``model`` on the data set's ``split`` and keep the result in its metadata."""
    truth, scores = predict_split(model, dataset, split)
    tables = score_table(truth, scores, model.thresholds)
    model.metadata["test_metrics"] = {"split": split, "frames": len(truth),
                                      "dataset": str(dataset.root), **tables}
    return tables


def _markdown(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(rows_i) + " |" for rows_i in rows]
    return "\n".join(lines) + "\n"


def _fmt(v: float) -> str:
    return "–" if v != v else f"{v:.3f}"


def multilabel_rows(named_tables: dict[str, dict], definition: str = "mxqc"):
    """Table 3 rows: one per model name."""
    return [[name, *(_fmt(t["multilabel"][definition][m]) for m in MULTILABEL_MEASURES)]
            for name, t in named_tables.items()]


def write_tables(out_dir, named_tables: dict[str, dict]) -> dict[str, Path]:
    """Table 3 for every model and Tables 4/5 for each, as Markdown and CSV in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    md = []
    for definition in ("mxqc", "reflex"):
        header = ["model", *MULTILABEL_MEASURES]
        rows = multilabel_rows(named_tables, definition)
        md.append(f"### Multi-label measures ({definition} definitions)\n\n"
                  + _markdown(header, rows))
        written[f"multilabel_{definition}"] = _csv(out / f"multilabel_{definition}.csv",
                                                   header, rows)
    for name, table in named_tables.items():
        for definition in ("mxqc", "reflex"):
            header = ["class", *PER_CLASS_MEASURES]
            rows = [[c, *(_fmt(table["per_class"][definition][c][m])
                          for m in PER_CLASS_MEASURES)] for c in CLASSES]
            md.append(f"### {name}: per class ({definition} definitions)\n\n"
                      + _markdown(header, rows))
            written[f"{name}_per_class_{definition}"] = _csv(
                out / f"{_safe(name)}_per_class_{definition}.csv", header, rows)
    (out / "tables.md").write_text("\n".join(md))
    written["markdown"] = out / "tables.md"
    return written


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _csv(path: Path, header, rows) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def plot_curves(out_png, truth, scores, thresholds, *, title: str = "") -> Path:
    """Per-class ROC and precision–recall curves and confusion matrices, one PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 9), layout="constrained")
    roc_ax, pr_ax = fig.add_subplot(2, 2, 1), fig.add_subplot(2, 2, 2)
    known = truth != UNKNOWN
    for j, name in enumerate(CLASSES):
        t, s = truth[known[:, j], j], scores[known[:, j], j]
        if np.unique(t).size < 2:
            continue
        fpr, tpr, _ = skm.roc_curve(t, s)
        prec, rec, _ = skm.precision_recall_curve(t, s)
        auc = skm.roc_auc_score(t, s)
        roc_ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
        pr_ax.plot(rec, prec, label=name)
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    pr_ax.set(xlabel="recall", ylabel="precision", title="precision–recall")
    roc_ax.legend(fontsize=8)
    pr_ax.legend(fontsize=8)
    grid = fig.add_gridspec(2, 1)[1].subgridspec(1, len(CLASSES))
    pred = scores > np.asarray(thresholds)
    for j, name in enumerate(CLASSES):
        ax = fig.add_subplot(grid[0, j])
        cm = skm.confusion_matrix(truth[known[:, j], j], pred[known[:, j], j], labels=[0, 1])
        ax.imshow(cm, cmap="Blues")
        for (r, c), v in np.ndenumerate(cm):
            ax.text(c, r, str(v), ha="center", va="center",
                    color="white" if v > cm.max() / 2 else "black")
        ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", title=name.replace("_", " "))
        if j == 0:
            ax.set_ylabel("true")
    fig.suptitle(title)
    fig.savefig(out_png, dpi=90)
    return Path(out_png)
