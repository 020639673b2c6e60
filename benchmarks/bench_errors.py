"""Where a model's errors lie on a simulated test set, by what the simulator drew there.

    .venv/bin/python benchmarks/bench_errors.py TEST_SET [--model PATH] [--tta 4]

TEST_SET is a simulated PNG set (``mxqc simulate --format png``) with its ``truth.jsonl``.
Writes benchmarks/results-errors.md: per class the misses, false alarms and the Jaccard
index the model would reach were that class always right; misses by the kind of anomaly
drawn; false-alarm rates by the classes a frame does carry; and, per class, how often the
model flags a drawn anomaly by its visibility score (``truth.jsonl``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mxqc.classes import CLASSES
from mxqc.dataset import load_dataset
from mxqc.learn import load_model, store
from mxqc.learn.evaluate import predict_split
from mxqc.metrics import multilabel_scores
from mxqc.simulate import Scene
from mxqc.simulate.export import read_scenes

SCORE_BINS = (0, 1, 2, 4, 8, 16, 1000)


def loop_kind(scene: Scene) -> str:
    rings = scene.loop_rings
    if rings and rings[0][5]:
        return "nylon fibre arcs (4.4, 3.7 Å)"
    if rings and abs(rings[0][1] - 15.8) < 0.05 and rings[0][4] >= 360:
        return "kapton rings (15.8, 4.9 Å)"
    return "other plastics (5–20 Å)"


def diffuse_kind(scene: Scene) -> str:
    if scene.crystal_scale == 0:
        return "no crystal (cloud only)"
    return "halo + streaks" if scene.diffuse[2] else "halo"


def ice_kind(scene: Scene) -> str:
    return ("textured" if scene.ice[2] else "smooth") + (", cubic" if scene.ice[3] else "")


def single_kind(attr: str) -> Callable[[Scene], str]:
    def kind(scene: Scene) -> str:
        kinds = getattr(scene, attr)
        return kinds[0] if len(kinds) == 1 else "several kinds"
    return kind


KINDS = {"loop_scattering": loop_kind, "diffuse_scattering": diffuse_kind,
         "ice_ring": ice_kind, "artifact": single_kind("artifacts"),
         "non_uniform_detector": single_kind("nonuniform")}


def read_visibility(test_set) -> dict[str, dict[str, float | None]]:
    """Each frame's visibility scores by class, from the set's ``truth.jsonl``."""
    with open(Path(test_set) / "truth.jsonl") as f:
        return {row["image"]: row["visibility"] for row in map(json.loads, f)}


def _table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(v) for v in row) + " |" for row in rows), ""]


def _recall(hit: np.ndarray) -> str:
    return f"{hit.mean():.2f}" if hit.size else "–"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("test_set")
    parser.add_argument("--model", default=None)
    parser.add_argument("--tta", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-errors.md")))
    args = parser.parse_args()
    model = load_model(args.model)
    thresholds = model.thresholds_for(model.check_views(args.tta))
    dataset = load_dataset(args.test_set)
    truth, scores = predict_split(model, dataset, "all", views=args.tta)
    truth, pred = truth.astype(bool), scores >= thresholds
    all_scenes = read_scenes(args.test_set)
    scenes = [all_scenes[name] for name in store.split_table(dataset, "all").names]
    base = multilabel_scores(truth, scores, threshold=thresholds)["jaccard"]

    lines = [f"# Where {model.name} errs on {len(truth)} simulated frames "
             f"({time.strftime('%Y-%m-%d')}, {args.tta} view(s))", "",
             f"Test set `{args.test_set}`; Jaccard index {base:.3f}. \"Jaccard if right\" is "
             "the index with that class's predictions replaced by the truth: what the class "
             "costs.", ""]
    rows = []
    for c, name in enumerate(CLASSES):
        t, p = truth[:, c], pred[:, c]
        fixed = pred.copy()
        fixed[:, c] = t
        tp, fn, fp = (t & p).sum(), (t & ~p).sum(), (~t & p).sum()
        rows.append((name, t.sum(), fn, fp, f"{2 * tp / max(2 * tp + fn + fp, 1):.2f}",
                     f"{multilabel_scores(truth, fixed.astype(float))['jaccard']:.3f}"))
    lines += _table(("class", "frames", "missed", "false alarms", "F1", "Jaccard if right"),
                    rows)

    lines += ["## Misses by what was drawn", ""]
    for name, kind_of in KINDS.items():
        c = CLASSES.index(name)
        kinds = np.array([kind_of(s) if t else "" for s, t in zip(scenes, truth[:, c],
                                                                   strict=True)])
        rows = [(k, (kinds == k).sum(), (~pred[kinds == k, c]).sum(),
                 _recall(pred[kinds == k, c])) for k in sorted(set(kinds) - {""})]
        lines += [f"**{name}**", "", *_table(("kind", "frames", "missed", "recall"), rows)]

    lines += ["## False-alarm rate by what the frame does show", "",
              "Rows: the class falsely flagged; columns: frames that carry this other class "
              "(and not the row's).", ""]
    rows = []
    for c, name in enumerate(CLASSES):
        negative = ~truth[:, c]
        cells = [f"{pred[negative & truth[:, k], c].mean():.2f}" if k != c
                 and (negative & truth[:, k]).any() else "–" for k in range(len(CLASSES))]
        rows.append((name, f"{pred[negative, c].mean():.2f}", *cells))
    lines += _table(("false alarm", "all negatives", *CLASSES), rows)

    visibility = read_visibility(args.test_set)
    lines += ["## Flag rate by how visible the drawn anomaly is", "",
              "Score: the visibility rule's contrast-to-noise (`mxqc.simulate.visibility`); "
              "frames below the class's threshold are labelled 0, so a flag there is a false "
              "alarm on an anomaly that was drawn but cannot be seen.", ""]
    rows = []
    names = store.split_table(dataset, "all").names
    for c, name in enumerate(CLASSES):
        score = np.array([np.nan if visibility[n][name] is None else visibility[n][name]
                          for n in names])
        for lo, hi in itertools.pairwise(SCORE_BINS):
            sel = (score >= lo) & (score < hi)
            if sel.any():
                rows.append((name, f"{lo}–{hi}", sel.sum(), f"{pred[sel, c].mean():.2f}"))
    lines += _table(("class", "score", "frames drawn", "flagged"), rows)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
