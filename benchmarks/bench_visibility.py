"""How the visibility rule judges drawn anomalies, and a gallery to calibrate it by eye.

    .venv/bin/python benchmarks/bench_visibility.py [--frames 600] [--workers 2]
    .venv/bin/python benchmarks/bench_visibility.py --truth DATASET     # a simulated set
    .venv/bin/python benchmarks/bench_visibility.py --gallery docs      # galleries

Without ``--truth``: scenes are drawn for RefleX-like labels on the training detectors and
judged once (no redraw), so the table shows how often a first draw is invisible, per class,
with the quantiles of its score. With ``--truth``: from a simulated set's ``truth.jsonl``,
how many drawn labels the rule turned to 0 (after redraws). ``--gallery DIR`` writes, per
class, frames whose score lies just below and just above its threshold, normalised as a
person sees them (512², area), to ``DIR/visibility-gallery-<class>.png``.
Writes benchmarks/results-visibility.md (the tables).
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from mxqc.classes import CLASSES
from mxqc.simulate.generate import judge_scene
from mxqc.simulate.labels import sample_labels
from mxqc.simulate.scene import sample_scene
from mxqc.simulate.visibility import THRESHOLDS
from mxqc.threads import prepare_worker

DETECTORS = ("square1k", "pilatus6m", "square1k", "eiger4m", "square1k", "ccd_2x2")
RESULTS = Path(__file__).with_name("results-visibility.md")


def first_draw(seed: int) -> tuple[str, tuple[int, ...], dict]:
    rng = np.random.default_rng(seed)
    detector = DETECTORS[seed % len(DETECTORS)]
    labels = sample_labels(1, rng)[0]
    frame = judge_scene(sample_scene(rng, detector, labels, seed=seed))
    return detector, frame.scene.labels, frame.visibility


def first_draw_table(n: int, workers: int) -> tuple[list[str], list]:
    with ProcessPoolExecutor(workers, initializer=prepare_worker, initargs=(1,)) as pool:
        rows = list(pool.map(first_draw, range(n), chunksize=4))
    lines = [f"## First draws ({n} frames, detectors {', '.join(sorted(set(DETECTORS)))})", "",
             "| class | threshold | drawn | invisible | share | score p10 / p50 / p90 |",
             "|---|---|---|---|---|---|"]
    for name in CLASSES:
        scores = np.array([v[name] for _, _, v in rows if v[name] is not None])
        if not scores.size:
            continue
        low = int((scores < THRESHOLDS[name]).sum())
        q = np.percentile(scores, [10, 50, 90])
        lines.append(f"| {name} | {THRESHOLDS[name]} | {scores.size} | {low} | "
                     f"{low / scores.size:.1%} | {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} |")
    return [*lines, ""], rows


def truth_table(dataset: Path) -> list[str]:
    """Per class: drawn, visible and turned-to-0 labels of a simulated set, and how many
    draws were thrown away because the class was invisible in them."""
    drawn = np.zeros(len(CLASSES), int)
    visible = np.zeros(len(CLASSES), int)
    thrown = dict.fromkeys(CLASSES, 0)
    frames = redrawn = 0
    with open(dataset / "truth.jsonl") as f:
        for line in f:
            row = json.loads(line)
            frames += 1
            drawn += np.array([row["drawn"][c] for c in CLASSES])
            visible += np.array([row["visible"][c] for c in CLASSES])
            redrawn += bool(row["rejected_draws"])
            for invisible in row["rejected_draws"]:
                for c in invisible:
                    thrown[c] += 1
    lines = [f"## Labels turned to 0 in `{dataset.name}` ({frames} frames, {redrawn} of them "
             "drawn again)", "",
             "| class | drawn | visible | turned to 0 | draws thrown away, class invisible |",
             "|---|---|---|---|---|"]
    lines += [f"| {c} | {d} | {v} | {d - v} ({(d - v) / max(d, 1):.1%}) | {thrown[c]} |"
              for c, d, v in zip(CLASSES, drawn, visible, strict=True)]
    return [*lines, ""]


def gallery(rows, out_dir: Path, per_side: int = 4) -> list[Path]:
    """Per class: the frames scoring just below and just above the threshold."""
    from matplotlib.figure import Figure
    from PIL import Image

    from mxqc.normalise import normalise
    from mxqc.simulate.generate import render_scene, scene_layers
    from mxqc.simulate.visibility import changes

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CLASSES:
        scored = sorted((v[name], seed) for seed, (_, _, v) in enumerate(rows)
                        if v[name] is not None)
        k = THRESHOLDS[name]
        below = [s for s in scored if s[0] < k][-per_side:]
        above = [s for s in scored if s[0] >= k][:per_side]
        fig = Figure(figsize=(2.6 * per_side, 11), dpi=80)
        axes = fig.subplots(4, per_side)
        for ax in np.ravel(axes):
            ax.axis("off")
        for row, picks, side in ((0, below, "below"), (2, above, "above")):
            for col, (value, seed) in enumerate(picks):
                rng = np.random.default_rng(seed)
                detector = DETECTORS[seed % len(DETECTORS)]
                scene = sample_scene(rng, detector, sample_labels(1, rng)[0], seed=seed)
                image = normalise(render_scene(scene), size=512, resize="area").image
                change = changes(scene_layers(scene), scene.labels)[name]
                axes[row, col].imshow(image, cmap="gray", vmin=0, vmax=255)
                axes[row, col].set_title(f"{side}: {value:.2f} ({detector}, {seed})",
                                         fontsize=9)
                top = max(float(np.percentile(np.abs(change), 99.9)), 1.0)
                axes[row + 1, col].imshow(change, cmap="coolwarm", vmin=-top, vmax=top)
                axes[row + 1, col].set_title(f"Δ grey (±{top:.0f})", fontsize=8)
        fig.suptitle(f"{name}: visibility threshold {k}; frames and the class's Δ grey "
                     "(top two rows: labelled 0; bottom two: 1)")
        fig.tight_layout()
        path = out_dir / f"visibility-gallery-{name}.png"
        fig.savefig(path)
        # a 128-colour palette halves the file and looks the same
        Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--truth", type=Path, help="a simulated data set to count")
    parser.add_argument("--gallery", type=Path, help="write the galleries to this folder")
    args = parser.parse_args()
    lines = ["# Visibility of drawn anomalies", "",
             f"`{' '.join(['benchmarks/bench_visibility.py', *__import__('sys').argv[1:]])}`",
             ""]
    if args.truth:
        lines += truth_table(args.truth)
    else:
        table, rows = first_draw_table(args.frames, args.workers)
        lines += table
        if args.gallery:
            for path in gallery(rows, args.gallery):
                print("wrote", path)
    text = "\n".join(lines)
    print(text)
    if args.truth and RESULTS.exists():  # a data set's counts go below the first draws
        text = RESULTS.read_text() + "\n" + "\n".join(lines[2:])
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
