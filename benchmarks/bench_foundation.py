"""Speed and beam-centre accuracy of the foundation stages.

    .venv/bin/python benchmarks/bench_foundation.py [--frames N] [--out FILE]

Prints Markdown tables (ms per call, median of repeats; centre MAE/RMSE in pixels at 1024²)
and writes them to benchmarks/results-foundation.md. Real-frame rows need ../shared/real-frames.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mxqc.centre import find_centre, locate_beam
from mxqc.centre.reflex import candidate_line, reflex_centre
from mxqc.frame import Geometry
from mxqc.io import read_frame, write_cbf, write_nexus
from mxqc.normalise import normalise
from mxqc.represent import polar, radial_features
from mxqc.simulate import RingPattern, ring_pattern
from mxqc.simulate.scene import sample_beam_offset

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-frames"
METHODS = ("naive", "reflex", "symmetry", "auto")


def timed(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def detector_frame(shape, centre, gap_period):
    p = RingPattern(shape=shape, centre=centre, ring_radii=(400.0, 700.0, 1000.0),
                    ring_width=10.0, background_scale=800.0, beamstop_radius=40.0,
                    arm_width=25.0, gap_period=gap_period, gap_width=17)
    return ring_pattern(p)


def speed_rows(tmp: Path):
    rows = []
    pilatus = detector_frame((2527, 2463), (1240.0, 1270.0), 212)
    write_cbf(tmp / "p6m.cbf", pilatus, Geometry(beam_x=1240.0, beam_y=1270.0))
    rows.append(("read Pilatus 6M CBF (2527×2463 int32)",
                 timed(lambda: read_frame(tmp / "p6m.cbf"))))
    eiger = detector_frame((4371, 4150), (2070.0, 2180.0), 550)
    write_nexus(tmp / "e16m_master.h5", [eiger], Geometry(beam_x=2070.0, beam_y=2180.0))
    rows.append(("read Eiger 16M HDF5 frame (4371×4150, bitshuffle-LZ4)",
                 timed(lambda: read_frame(tmp / "e16m_master.h5"))))
    for name, pixels in (("6M", pilatus), ("16M", eiger)):
        for method in ("nearest", "area", "max"):
            rows.append((f"normalise {name} → 512², {method}",
                         timed(lambda p=pixels, m=method: normalise(p, resize=m))))
        rows.append((f"normalise {name} → 512², reflex-code variant",
                     timed(lambda p=pixels: normalise(p, variant="reflex-code"))))
    for size in (512, 1024):
        rows += image_rows(size)
    return rows


def image_rows(size: int):
    """Centre methods and representations on one size×size image."""
    counts = ring_pattern(RingPattern(shape=(2 * size, 2 * size),
                                      centre=(1.1 * size, 0.95 * size),
                                      ring_radii=(0.3 * size, 0.55 * size, 0.8 * size)))
    norm = normalise(counts, size=size, resize="area")
    centre = (size * 0.55, size * 0.47)
    rows = [(f"centre {method}, {size}²",
             timed(lambda m=method: find_centre(norm.image, method=m, valid=norm.valid), repeat=3))
            for method in METHODS]
    rows.append((f"radial features {size}², first call (builds the layer map)",
                 timed(lambda: radial_features(norm.image, centre), repeat=1)))
    rows.append((f"radial features {size}², cached layer map",
                 timed(lambda: radial_features(norm.image, centre))))
    rows += [(f"polar-{mode} {size}²", timed(lambda m=mode: polar(norm.image, centre, mode=m)))
             for mode in ("min", "max")]
    return rows


def reflex_per_candidate():
    """An image whose two centres of mass lie far apart gives a long candidate line."""
    counts = ring_pattern(RingPattern(centre=(760.0, 300.0), arm_angle_deg=200.0))
    image = normalise(counts, size=512).image
    n = len(candidate_line(image))
    ms = timed(lambda: reflex_centre(image))
    return n, ms


def synthetic_accuracy(n_frames: int, size: int = 1024, seed: int = 0):
    rng = np.random.default_rng(seed)
    errors = {m: [] for m in METHODS}
    for i in range(n_frames):
        dx, dy = sample_beam_offset(rng, size)
        raw = 2 * size
        centre = ((raw - 1) / 2 + 2 * dx, (raw - 1) / 2 + 2 * dy)
        radii = tuple(sorted(rng.uniform(0.1, 0.45, rng.integers(1, 4)) * raw))
        pattern = RingPattern(shape=(raw, raw), centre=centre, ring_radii=radii,
                              ring_width=rng.uniform(3, 15), ring_counts=rng.uniform(5, 60),
                              background_counts=rng.uniform(2, 50),
                              background_scale=rng.uniform(0.15, 0.5) * raw,
                              beamstop_radius=rng.uniform(15, 45),
                              arm_angle_deg=rng.uniform(0, 360) if rng.random() < 0.8 else None,
                              arm_width=rng.uniform(8, 30),
                              gap_period=int(raw / 5) if rng.random() < 0.5 else None,
                              gap_width=17, seed=i)
        norm = normalise(ring_pattern(pattern), size=size, resize="area")
        truth = norm.mapping.to_image(*centre)
        for method in METHODS:
            found = find_centre(norm.image, method=method, valid=norm.valid)
            errors[method].append(float(np.hypot(found.x - truth[0], found.y - truth[1])))
    return {m: np.array(e) for m, e in errors.items()}


def real_accuracy():
    rows = []
    for path in sorted(REAL.glob("*")):
        if path.suffix == ".md":
            continue
        frame = read_frame(path)
        g = frame.geometry
        cells = []
        for method in METHODS:
            found = locate_beam(frame, method=method)
            cells.append(f"{np.hypot(found.x - g.beam_x, found.y - g.beam_y):.1f}")
        rows.append((path.name, *cells))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="synthetic frames for accuracy")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-foundation.md")))
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    lines = [f"# Foundation benchmark ({time.strftime('%Y-%m-%d')}, {machine}, "
             f"{os.cpu_count()} cores)", "", "## Speed (ms per call, median)", "",
             "| stage | ms |", "|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        lines += [f"| {name} | {ms:.1f} |" for name, ms in speed_rows(Path(tmp))]
    n, ms = reflex_per_candidate()
    lines += ["", f"reflex on 512² with {n} candidates: {ms:.1f} ms per image, "
              f"{1e3 * ms / n:.1f} µs per candidate (the original: 40–50 ms per candidate, "
              f"{45.0 / (ms / n):.0f}× slower).", ""]
    errors = synthetic_accuracy(args.frames)
    lines += [f"## Beam centre on {args.frames} synthetic frames at 1024² (RefleX-like offsets; "
              "no header)", "", "| method | MAE px | RMSE px | median px | p95 px |",
              "|---|---|---|---|---|"]
    for method, e in errors.items():
        lines.append(f"| {method} | {e.mean():.2f} | {np.sqrt((e**2).mean()):.2f} | "
                     f"{np.median(e):.2f} | {np.percentile(e, 95):.2f} |")
    if REAL.is_dir():
        lines += ["", "## Real frames: distance from the header centre (raw pixels)", "",
                  "| frame | " + " | ".join(METHODS) + " |", "|---" * (len(METHODS) + 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in real_accuracy()]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += ["", f"Peak resident memory of the benchmark process: {peak:.0f} MB."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
