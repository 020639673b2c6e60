"""How often the training-free ring analysis and the CNN agree with the simulated truth.

    .venv/bin/python benchmarks/bench_rings.py [--frames 300] [--model PATH]

Frames are simulated as CBFs (Pilatus 6M, Eiger 4M and a 1024² detector in turn, labels
drawn like RefleX's), scanned by ``mxqc.scan.scan`` with ring analysis on, and the three
ring-type classes scored per source: the ring analysis alone, the CNN alone, and both
(either says yes / both say yes). Writes benchmarks/results-rings.md.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from mxqc.scan import ScanOptions, scan
from mxqc.scan.rings import RING_EVIDENCE
from mxqc.simulate.export import write_simulated


def scores(truth: np.ndarray, pred: np.ndarray) -> str:
    tp, fp, fn = (truth & pred).sum(), (~truth & pred).sum(), (truth & ~pred).sum()
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return f"{precision:.2f} / {recall:.2f} / {f1:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--model", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-rings.md")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "frames"
        write_simulated(src, args.frames, seed=404, detector=["pilatus6m", "eiger4m", "square1k"],
                        fmt="cbf", workers=args.workers)
        scan([src], Path(tmp) / "scan", options=ScanOptions(model_path=args.model,
                                                             heatmaps=False),
             workers=args.workers)
        with open(src / "labels.csv", newline="") as f:
            truth = {r["image"]: r for r in csv.DictReader(f)}
        with open(Path(tmp) / "scan" / "results.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    lines = [f"# Ring analysis vs CNN on {len(rows)} simulated frames "
             f"({time.strftime('%Y-%m-%d')})", "",
             "precision / recall / F1 against the simulated labels", "",
             "| class | frames with it | ring analysis | CNN | either | both |",
             "|---|---|---|---|---|---|"]
    for name, kind in RING_EVIDENCE.items():
        t = np.array([truth[Path(r["file"]).name.split(".")[0]][name] == "1" for r in rows])
        column = f"rings_{kind.replace('-', '_')}_d_a"
        rings = np.array([bool(r[column]) for r in rows])
        cnn = np.array([r[name] == "1" for r in rows])
        lines.append(f"| {name} | {t.sum()} | {scores(t, rings)} | {scores(t, cnn)} | "
                     f"{scores(t, rings | cnn)} | {scores(t, rings & cnn)} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
