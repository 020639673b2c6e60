"""Reading each frame with its neighbours in a sweep, on simulated sweeps: per-frame F1 of
the frames' own calls against the calls read with their neighbours, and the sweep calls
against "some frame is flagged"; and whether the sweeps are found from the files.

    .venv/bin/python benchmarks/bench_sweeps.py [--sweeps 30] [--length 12] [--workers 2]

Frames are simulated as CBFs (``mxqc simulate --sweep``: the sample and the detector persist
through a sweep, artefacts come and go, ice may form part-way), scanned with the default
model, grouped by ``mxqc.scan.sweeps.group_sweeps`` and scored against the visible labels.
Writes benchmarks/results-sweeps.md.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from sklearn.metrics import f1_score

from mxqc.classes import CLASSES
from mxqc.scan import ScanOptions, scan
from mxqc.scan.results import Journal
from mxqc.scan.sweeps import group_sweeps, held_flags
from mxqc.simulate.export import write_simulated


def f1(truth, pred) -> float:
    return f1_score(truth, pred, zero_division=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=30)
    parser.add_argument("--length", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=919)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-sweeps.md")))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mxqc-sweeps-"))
    n = args.sweeps * args.length
    write_simulated(work / "frames", n, seed=args.seed, detector="square1k", fmt="cbf",
                    sweep=args.length, workers=args.workers)
    scan([str(work / "frames")], work / "scan", options=ScanOptions(heatmaps=False),
         workers=args.workers)
    with open(work / "frames" / "labels.csv", newline="") as f:
        labels = {r["image"]: r for r in csv.DictReader(f)}
    with open(work / "frames" / "truth.csv", newline="") as f:
        true_sweep = {r["image"]: r["sweep"] for r in csv.DictReader(f)}
    rows = {Path(r["file"]).name.split(".")[0]: r for r in Journal(work / "scan").rows()
            if r["status"] == "ok"}
    sweeps = group_sweeps(rows.values())
    members = [[f"sim_{args.seed}_{k:06d}" for k in s.numbers] for s in sweeps]
    found_right = sum(len({true_sweep[m] for m in ms}) == 1 for ms in members)
    lines = ["# Frames read with their neighbours in simulated sweeps", "",
             f"`.venv/bin/python benchmarks/bench_sweeps.py --sweeps {args.sweeps} --length "
             f"{args.length}` ({n} frames, 1024² CBF, default model with its fusion).", "",
             f"Sweeps found from the files: {len(sweeps)} (simulated: {args.sweeps}); "
             f"{found_right} hold frames of one simulated sweep only.", "",
             "| class | frames with it | per-frame F1, own call | per-frame F1, read with "
             "neighbours | sweeps with it | sweep F1, some frame flagged | sweep F1, sweep "
             "call |", "|---|---:|---:|---:|---:|---:|---:|"]
    for c in CLASSES:
        truth, own, held, s_truth, s_any, s_call = [], [], [], [], [], []
        for ms in members:
            t = [labels[m][c] == "1" for m in ms]
            flags = [bool(rows[m][c]) for m in ms]
            truth += t
            own += flags
            held_here = held_flags(flags, c)
            held += held_here
            s_truth.append(any(t))
            s_any.append(any(flags))
            s_call.append(any(held_here))
        lines.append(f"| {c} | {sum(truth)} | {f1(truth, own):.3f} | {f1(truth, held):.3f} | "
                     f"{sum(s_truth)} | {f1(s_truth, s_any):.3f} | {f1(s_truth, s_call):.3f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
