"""Simulator speed of this tree against earlier commits, measured side by side.

    .venv/bin/python benchmarks/bench_simulate_versions.py [REV ...] [--rounds 3]

This machine's speed drifts by a factor of two within an hour (other tenants), so a figure
measured on another day says little. Each REV (default: the commit before visible labels,
and HEAD) is exported with ``git archive`` and imported in a subprocess in place of this
tree's ``mxqc``; the working tree is measured as "work". Rounds alternate between the
versions, and each figure is the best round: CPU time of one process with one thread,
``simulate_frame`` on square1k (1024², ``--frames`` frames, default 120) and pilatus6m (a
tenth as many), seeds 1…N, after one warm-up frame: enough frames that the rarer, costlier
scenes (streaked diffuse scattering, many loop rings) come up. Writes
benchmarks/results-simulate-versions.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE_VISIBLE_LABELS = "45463ad"
DETECTORS = ("square1k", "pilatus6m")
MEASURE = """
import os, sys, time
os.environ["OMP_NUM_THREADS"] = "1"
import cv2
cv2.setNumThreads(1)
try:  # each version as its own workers run (the allocator kept its freed memory from then on)
    from mxqc.threads import prepare_worker
    prepare_worker(1)
except ImportError:
    pass
from mxqc.simulate import simulate_frame
detector, n = sys.argv[1], int(sys.argv[2])
simulate_frame(0, detector=detector)
start = time.process_time()
for seed in range(1, n + 1):
    simulate_frame(seed, detector=detector)
print(n / (time.process_time() - start))
"""


def export(rev: str, into: Path) -> Path:
    """``src`` of ``rev`` under ``into``; the path to put first on PYTHONPATH."""
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into / rev, filter="data")
    return into / rev / "src"


def frames_per_second(source: Path, detector: str, frames: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(source), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", MEASURE, detector, str(frames)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="*", default=[BEFORE_VISIBLE_LABELS, "HEAD"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--out", default=str(Path(__file__).with_name(
        "results-simulate-versions.md")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sources = {rev: export(rev, Path(tmp)) for rev in args.revs} | {"work": ROOT / "src"}
        frames = {"square1k": args.frames, "pilatus6m": max(1, args.frames // 10)}
        best = {(v, d): 0.0 for v in sources for d in DETECTORS}
        for _ in range(args.rounds):
            for version, source in sources.items():
                for detector in DETECTORS:
                    fps = frames_per_second(source, detector, frames[detector])
                    best[version, detector] = max(best[version, detector], fps)
    lines = ["# Simulator speed by version (one core, CPU time, best of "
             f"{args.rounds} alternating rounds)", "",
             "`.venv/bin/python benchmarks/bench_simulate_versions.py "
             f"{' '.join(args.revs)} --rounds {args.rounds} --frames {args.frames}`",
             "", "| version | " + " | ".join(f"{d} frames/s" for d in DETECTORS) + " |",
             "|---|" + "---:|" * len(DETECTORS)]
    lines += [f"| {v} | " + " | ".join(f"{best[v, d]:.2f}" for d in DETECTORS) + " |"
              for v in sources]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
