"""End-to-end scan speed with time per stage, and the compute floor beside it.

    .venv/bin/python benchmarks/bench_scan.py [--frames 200] [--workers N] [--kinds ...]

Three kinds of data, simulated once into a temporary folder (not timed):
``pilatus6m-unrelated``, Pilatus 6M CBFs each with its own geometry (the first frame of many
data sets, as the RefleX data set was made); ``pilatus6m-sweeps``, sweeps of 20 CBFs that
share a geometry; ``eiger16m-h5``, one Eiger 16M HDF5 sweep. Each is scanned by
``mxqc.scan.scan`` with the default options, exactly as ``mxqc scan`` does (``--workers``
defaults to the cores this process may use, as ``mxqc scan``'s does). Stage times are the
per-frame means the scan records in its rows; frames/s is the whole scan's wall time,
start-up, journal, tables and thumbnails included. The floor is what reading the frames and
running the network alone would allow on the same workers: workers / (read + inference
per frame, both from the same run). Writes benchmarks/results-scan.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mxqc.scan import ScanOptions, scan
from mxqc.simulate.export import write_simulated
from mxqc.threads import available_cores, keep_freed_memory

STAGES = ("t_read_ms", "t_normalise_ms", "t_centre_ms", "t_rings_ms", "t_witness_ms",
          "t_inference_ms", "t_heatmap_ms")
KINDS = {  # how each kind's frames are simulated
    "pilatus6m-unrelated": dict(seed=6, detector="pilatus6m", fmt="cbf", sweep=1),
    "pilatus6m-sweeps": dict(seed=7, detector="pilatus6m", fmt="cbf", sweep=20),
    "eiger16m-h5": dict(seed=8, detector="eiger16m", fmt="h5"),
}


def run(kind: str, frames: int, workers: int, model: str | None, tmp: Path,
        device: str = "cpu", heatmap_every: int = ScanOptions.heatmap_every,
        tta: int = 1) -> dict:
    src = tmp / kind
    if not src.exists():
        write_simulated(src, frames, frames_per_file=frames, workers=max(2, workers),
                        **KINDS[kind])
    out = tmp / f"{kind}-scan-{workers}"
    marks = []  # (seconds, frames done) after each batch

    def progress(done, total):
        marks.append((time.perf_counter() - start, done))

    start = time.perf_counter()
    summary = scan([src], out, options=ScanOptions(
        model_path=model, device=device, heatmaps=heatmap_every > 0,
        heatmap_every=max(heatmap_every, 1), tta=tta),
                   workers=workers, progress=progress)
    seconds = time.perf_counter() - start
    # steady state: from the first finished batch of every worker to the last batch, i.e.
    # without process start-up (torch import, model load) and the final tables and report
    first = marks[min(workers, len(marks) - 1)]
    last = max(marks, key=lambda m: m[1])
    steady = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
    with open(out / "results.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    stages = {s: float(np.mean([float(r[s] or 0) for r in rows])) for s in STAGES}
    floor = workers / ((stages["t_read_ms"] + stages["t_inference_ms"]) / 1e3)
    return {"kind": kind, "workers": workers, "frames": summary.frames,
            "failures": summary.failures, "fps": summary.frames / seconds,
            "steady_fps": steady, "floor_fps": floor, **stages}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[available_cores()])
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="cpu", help="where the CNN runs (cpu, cuda)")
    parser.add_argument("--heatmap-every", type=int, default=ScanOptions.heatmap_every,
                        help="heatmaps for one in N flagged frames; 0: none")
    parser.add_argument("--tta", type=int, default=1, help="test-time views per frame")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--data", default=None,
                        help="keep the simulated frames here and reuse them (e.g. to compare "
                             "versions on the same frames; default: a temporary folder)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-scan.md")))
    args = parser.parse_args()
    keep_freed_memory()  # as the ``mxqc`` command does for its own process
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        for kind in args.kinds:
            for workers in args.workers:
                results.append(run(kind, args.frames, workers, args.model, data,
                                   args.device, args.heatmap_every, args.tta))
                print(results[-1], flush=True)
    header = ["frames", "workers", "frames/s", "steady frames/s", "floor frames/s",
              "of floor", *(s[2:-3] + " ms" for s in STAGES)]
    lines = [f"# Scan benchmark ({time.strftime('%Y-%m-%d')}, {args.frames} frames each, "
             f"CNN on {args.device}, {os.cpu_count()} CPU cores, heatmaps for "
             + (f"1 in {args.heatmap_every} flagged frames" if args.heatmap_every else "none")
             + f", {args.tta} test-time view(s))",
             "",
             "| data | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for r in results:
        lines.append(f"| {r['kind']} | {r['frames']} | {r['workers']} | {r['fps']:.2f} | "
                     f"{r['steady_fps']:.2f} | {r['floor_fps']:.1f} | "
                     f"{r['fps'] / r['floor_fps']:.0%} | "
                     + " | ".join(f"{r[s]:.0f}" for s in STAGES) + " |")
    lines += ["", "Stage times are per frame inside one worker; frames/s is the whole scan's "
              "wall time (worker start-up, reading, analysis, journal, tables, thumbnails, "
              "report); steady frames/s leaves out start-up and the final tables and report; "
              "the floor is workers / (read + inference per frame), the same run's."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
