"""Simulator speed, and beam-centre accuracy on simulated frames of every detector model.

    .venv/bin/python benchmarks/bench_simulate.py [--speed-frames 300] [--frames-per-detector N]

Speed is one process with one thread (one core); ``--frames-per-detector 0`` measures only
speed. Accuracy: frames drawn with RefleX-like labels and beam
offsets, normalised to 1024² (area), centres found without the header; MAE/RMSE in 1024²
pixels. Without a header ``auto`` is the symmetry method by construction, so it is reported
from the same call. Writes benchmarks/results-simulate.md.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from mxqc.centre import find_centre
from mxqc.classes import CLASSES
from mxqc.normalise import normalise
from mxqc.simulate import DETECTORS, simulate_frame
from mxqc.threads import prepare_worker

IMAGE_METHODS = ("naive", "reflex", "symmetry")
METHODS = (*IMAGE_METHODS, "auto")
TABLE_DETECTORS = ("pilatus6m", "eiger4m", "eiger16m", "adsc_q315", "ccd_2x2", "square1k")


def frames_per_second(detector: str, n: int) -> float:
    simulate_frame(0, detector=detector)  # warm caches (module maps)
    start = time.perf_counter()
    for seed in range(1, n + 1):
        simulate_frame(seed, detector=detector)
    return n / (time.perf_counter() - start)


def centre_errors(job) -> tuple[dict[str, float], bool]:
    """Each method's distance from the true centre, and whether the detector is non-uniform."""
    detector, seed = job
    frame = simulate_frame(seed, detector=detector)
    norm = normalise(frame.counts, size=1024, resize="area")
    truth = norm.mapping.to_image(frame.scene.beam_x, frame.scene.beam_y)
    errors = {}
    for method in IMAGE_METHODS:
        found = find_centre(norm.image, method=method, valid=norm.valid)
        errors[method] = float(np.hypot(found.x - truth[0], found.y - truth[1]))
    errors["auto"] = errors["symmetry"]
    return errors, bool(frame.scene.labels[CLASSES.index("non_uniform_detector")])


def centre_tables(n: int, detectors, workers: int) -> list[str]:
    header = ["| detector | " + " | ".join(METHODS) + " |", "|---" * (len(METHODS) + 1) + "|"]
    mae_rmse, median_p95, by_detector_fault = [], [], []
    with ProcessPoolExecutor(workers, initializer=prepare_worker, initargs=(1,)) as pool:
        for detector in detectors:
            jobs = [(detector, 10_000 + i) for i in range(n)]
            results = list(pool.map(centre_errors, jobs, chunksize=4))
            errors = {m: np.array([r[m] for r, _ in results]) for m in METHODS}
            mae_rmse.append(f"| {detector} | " + " | ".join(
                f"{e.mean():.2f} / {np.sqrt((e ** 2).mean()):.2f}" for e in errors.values()) + " |")
            median_p95.append(f"| {detector} | " + " | ".join(
                f"{np.median(e):.2f} / {np.percentile(e, 95):.2f}" for e in errors.values()) + " |")
            faulty = np.array([fault for _, fault in results])
            sym = errors["symmetry"]
            by_detector_fault.append(
                f"| {detector} | {(~faulty).sum()} | {sym[~faulty].mean():.2f} / "
                f"{np.median(sym[~faulty]):.2f} | {faulty.sum()} | {sym[faulty].mean():.2f} / "
                f"{np.median(sym[faulty]):.2f} |")
            print(mae_rmse[-1], median_p95[-1], by_detector_fault[-1], sep="\n", flush=True)
    return ["", f"## Beam centre on {n} simulated frames per detector (1024², no header)", "",
            "MAE / RMSE in px:", "", *header, *mae_rmse, "", "Median / 95th percentile in px:",
            "", *header, *median_p95, "",
            "Symmetry MAE / median in px, on frames without and with a non-uniform detector:",
            "", "| detector | frames | uniform | frames | non-uniform |", "|---|---|---|---|---|",
            *by_detector_fault]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed-frames", type=int, default=300,
                        help="1024² frames timed; a tenth as many of the large detectors")
    parser.add_argument("--frames-per-detector", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--detectors", default=",".join(TABLE_DETECTORS))
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-simulate.md")))
    args = parser.parse_args()
    lines = [f"# Simulator benchmark ({time.strftime('%Y-%m-%d')})", "",
             "## Speed (one process, one thread)", "", "| detector | frames | frames/s |",
             "|---|---|---|"]
    prepare_worker(1)  # frames per second per core, as a worker makes them
    for detector in ("square1k", "pilatus6m", "eiger16m"):
        n_frames = args.speed_frames if detector == "square1k" else max(args.speed_frames // 10, 5)
        lines.append(f"| {detector} {DETECTORS[detector].shape} | {n_frames} | "
                     f"{frames_per_second(detector, n_frames):.2f} |")
    if args.frames_per_detector > 0:
        lines += centre_tables(args.frames_per_detector, args.detectors.split(","), args.workers)
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
