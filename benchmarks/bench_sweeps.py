"""Sweeps on simulated sweeps: the sweep calls against the truth (precision, recall, F1 per
class), the frame-level Jaccard of the frames' own calls and of the calls read with their
neighbours, and whether the sweeps are found from the files.

    .venv/bin/python benchmarks/bench_sweeps.py [--sweeps 50] [--length 20,40] [--workers 2]

Frames are simulated as CBFs (``mxqc simulate --sweep``: the sample and the detector persist
through a sweep, artefacts come and go, ice may form part-way), half the sweeps of each
``--length``, scanned with the default model, grouped by ``mxqc.scan.sweeps.group_sweeps``
and scored against the visible labels. Writes benchmarks/results-sweeps.md.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score

from mxqc.classes import CLASSES
from mxqc.metrics import jaccard_per_image
from mxqc.scan import ScanOptions, scan
from mxqc.scan.results import Journal
from mxqc.scan.sweeps import group_sweeps, held_flags
from mxqc.simulate.export import write_simulated


def simulate(work: Path, sweeps: int, lengths: list[int], seed: int, workers: int):
    """Frames of ``sweeps`` sweeps, shared out over ``lengths``; (labels, true sweep) by name."""
    labels, true_sweep = {}, {}
    for k, length in enumerate(lengths):
        count = sweeps // len(lengths) + (k < sweeps % len(lengths))
        folder = work / "frames" / f"length{length}"
        write_simulated(folder, count * length, seed=seed + k, detector="square1k", fmt="cbf",
                        sweep=length, workers=workers)
        with open(folder / "labels.csv", newline="") as f:
            labels |= {r["image"]: r for r in csv.DictReader(f)}
        with open(folder / "truth.csv", newline="") as f:
            true_sweep |= {r["image"]: f"{length}/{r['sweep']}" for r in csv.DictReader(f)}
    return labels, true_sweep


def sweep_scores(truth, pred) -> str:
    return " | ".join(f"{m(truth, pred, zero_division=0):.3f}"
                      for m in (precision_score, recall_score, f1_score))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=50)
    parser.add_argument("--length", default="20,40", help="frames per sweep; a list shares out")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=919)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-sweeps.md")))
    args = parser.parse_args()
    lengths = [int(v) for v in args.length.split(",")]
    work = Path(tempfile.mkdtemp(prefix="mxqc-sweeps-"))
    labels, true_sweep = simulate(work, args.sweeps, lengths, args.seed, args.workers)
    start = time.perf_counter()
    scan([str(work / "frames")], work / "scan", options=ScanOptions(heatmaps=False),
         workers=args.workers)
    seconds = time.perf_counter() - start
    rows = {Path(r["file"]).name.split(".")[0]: r for r in Journal(work / "scan").rows()
            if r["status"] == "ok"}
    sweeps = group_sweeps(rows.values())
    # a sweep is named <folder>/<prefix>; its frames <prefix><number, 6 digits>
    members = [[Path(s.name.split(" (")[0]).name + f"{k:06d}" for k in s.numbers]
               for s in sweeps]
    found_right = sum(len({true_sweep[m] for m in ms}) == 1 for ms in members)
    truth = np.array([[labels[m][c] == "1" for c in CLASSES] for ms in members for m in ms])
    own = np.array([[bool(rows[m][c]) for c in CLASSES] for ms in members for m in ms])
    held = np.column_stack([np.concatenate([held_flags([bool(rows[m][c]) for m in ms], c)
                                            for ms in members]) for c in CLASSES])
    n = len(truth)
    lines = ["# Sweeps: sweep calls and frames read with their neighbours, simulated sweeps", "",
             f"`.venv/bin/python benchmarks/bench_sweeps.py --sweeps {args.sweeps} --length "
             f"{args.length}` ({n} frames, 1024² CBF, default model with its fusion; the "
             f"scan took {seconds:.0f} s with {args.workers} workers).", "",
             f"Sweeps found from the files: {len(sweeps)} (simulated: {args.sweeps}); "
             f"{found_right} hold frames of one simulated sweep only.", "",
             f"Frame-level Jaccard: own calls {jaccard_per_image(truth, own).mean():.3f}, "
             f"read with neighbours {jaccard_per_image(truth, held).mean():.3f}.", "",
             "| class | frames with it | frame F1, own call | frame F1, with neighbours | "
             "sweeps with it | sweep precision | sweep recall | sweep F1 | sweep F1 if any "
             "frame flagged |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for j, c in enumerate(CLASSES):
        s_truth, s_any, s_call, start = [], [], [], 0
        for ms in members:
            s_truth.append(truth[start:start + len(ms), j].any())
            s_any.append(own[start:start + len(ms), j].any())
            s_call.append(held[start:start + len(ms), j].any())
            start += len(ms)
        frame_f1 = [f1_score(truth[:, j], calls[:, j], zero_division=0) for calls in (own, held)]
        lines.append(f"| {c} | {truth[:, j].sum()} | {frame_f1[0]:.3f} | {frame_f1[1]:.3f} | "
                     f"{sum(s_truth)} | "
                     f"{sweep_scores(s_truth, s_call)} | "
                     f"{f1_score(s_truth, s_any, zero_division=0):.3f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
