"""Where a model's errors lie on a simulated test set, by what the simulator drew there.

    .venv/bin/python benchmarks/bench_errors.py TEST_SET [--model PATH] [--tta 4]

TEST_SET is a simulated PNG set (``mxqc simulate --format png``) with its ``truth.jsonl``.
Writes benchmarks/results-errors.md: per class the misses, false alarms and the Jaccard
index the model would reach were that class always right; misses by the kind of anomaly
drawn; false-alarm rates by the classes a frame does carry; and loop-scatter recall by how
much the loop, or the detector's faulty gains, change the normalised 512² image (their frames
are rendered again, noise-free, with and without them).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from mxqc.classes import CLASSES
from mxqc.dataset import dataset_normalisation, load_dataset
from mxqc.learn import load_model, store
from mxqc.learn.evaluate import predict_split
from mxqc.metrics import multilabel_scores
from mxqc.normalise import normalise
from mxqc.simulate import Scene, render_scene
from mxqc.simulate.export import read_scenes
from mxqc.simulate.render import background, pixel_geometry, shadows
from mxqc.simulate.response import gain_map
from mxqc.threads import limit_threads

LOOP = CLASSES.index("loop_scattering")
NON_UNIFORM = CLASSES.index("non_uniform_detector")
STRONG = CLASSES.index("strong_background")
CONTRAST_BINS = (0, 5, 10, 20, 40, 80, 256)  # grey levels of the 512² image


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


def _recorded_grey(scene: Scene, size: int, resize: str):
    """A function from a scene variant (and gains) to the grey levels of its noise-free
    background in the normalised image, clipped at the real frame's own clip level."""
    clip = normalise(render_scene(scene), size=size, resize=resize).clip_value
    geometry = pixel_geometry(scene)
    recorded = shadows(scene) * geometry.factor * np.float32(scene.exposure)
    if scene.model.ccd:
        recorded *= np.float32(scene.model.adu_per_photon)

    def grey(variant: Scene, gains=1.0) -> np.ndarray:  # textures are drawn from the seed
        counts = background(variant, geometry, np.random.default_rng(variant.seed)) * recorded
        return cv2.resize(np.minimum(counts * gains, clip) * np.float32(255 / clip),
                          (size, size), interpolation=cv2.INTER_AREA)
    return grey


def _contrast(change: np.ndarray) -> float:
    """90th percentile of the grey-level change over the pixels it changes by ≥ ½ level."""
    changed = change > 0.5
    return float(np.percentile(change[changed], 90)) if changed.any() else 0.0


def loop_contrast(scene: Scene, size: int = 512, resize: str = "area") -> float:
    """How much the loop scatter darkens the normalised image (a ring under a clipped
    air-scatter halo changes nothing)."""
    grey = _recorded_grey(scene, size, resize)
    return _contrast(grey(scene) - grey(replace(scene, loop_rings=())))


def fault_contrast(scene: Scene, size: int = 512, resize: str = "area") -> float:
    """How much the non-uniform response changes the normalised image: its gains drawn again
    from the scene's parameters (same kinds and strength; the frame's own draw is not kept),
    against the same ±2 % module gains without the fault."""
    grey = _recorded_grey(scene, size, resize)
    faulty = gain_map(scene, np.random.default_rng(0))
    uniform = gain_map(replace(scene, nonuniform=()), np.random.default_rng(0))  # same ±2 %
    return _contrast(np.abs(grey(scene, faulty) - grey(scene, uniform)))


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
    if args.tta > 1:
        model.set_tta(args.tta)
    dataset = load_dataset(args.test_set)
    truth, scores = predict_split(model, dataset, "all")
    truth, pred = truth.astype(bool), scores >= model.thresholds
    all_scenes = read_scenes(args.test_set)
    scenes = [all_scenes[name] for name in store.split_table(dataset, "all").names]
    base = multilabel_scores(truth, scores, threshold=model.thresholds)["jaccard"]

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

    norm = dataset_normalisation(dataset)  # as the test set's PNGs were made
    for c, title, contrast_of, kind_of in (
            (LOOP, "Loop scatter", loop_contrast, None),
            (NON_UNIFORM, "Non-uniform detector", fault_contrast, KINDS[CLASSES[NON_UNIFORM]])):
        frames = np.flatnonzero(truth[:, c])
        # spawn, not fork: a child forked after torch has run can hang (as in export.py)
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"),
                                 initializer=limit_threads, initargs=(1,)) as pool:
            contrast = np.array(list(pool.map(
                partial(contrast_of, size=norm["size"], resize=norm["resize"]),
                [scenes[i] for i in frames], chunksize=8)))
        hit = pred[frames, c]
        lines += [f"## {title}: recall by how visible it is", "",
                  "Contrast: grey levels it changes in the normalised image (90th percentile "
                  "of the pixels it changes), noise-free, after the frame's own clip.", ""]
        rows = [(f"{lo}–{hi}", sel.sum(), _recall(hit[sel]),
                 f"{truth[frames[sel], STRONG].mean():.2f}" if sel.any() else "–")
                for lo, hi in itertools.pairwise(CONTRAST_BINS)
                for sel in [(contrast >= lo) & (contrast < hi)]]
        lines += _table(("contrast", "frames", "recall", "with strong background"), rows)
        if kind_of:
            kinds = np.array([kind_of(scenes[i]) for i in frames])
            rows = [(k, (kinds == k).sum(), f"{np.median(contrast[kinds == k]):.0f}",
                     _recall(hit[kinds == k])) for k in sorted(set(kinds))]
            lines += _table(("kind", "frames", "median contrast", "recall"), rows)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
