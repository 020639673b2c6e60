"""Cost of the witnesses per frame, stage by stage, and the spot finder against DISTL on
the shared real frames.

    .venv/bin/python benchmarks/bench_witness.py [--repeats 5] [--real-frames DIR]

One core (cv2 and BLAS held to one thread). Each frame is read once; every stage is timed
over ``--repeats`` runs after one warm-up and the median kept, with the per-geometry
caches warm (a sweep); the last row is what a frame whose geometry was not seen before
pays on top (a scan of unrelated frames). DISTL's figures are those
measured with cctbx's defaults (the issue that asked for this comparison quotes them).
Writes benchmarks/results-witness.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np

from mxqc.io import read_frame
from mxqc.scan import rings as ring_analysis
from mxqc.scan.rings import analyse_rings
from mxqc.witness import background, witness_frame
from mxqc.witness.artefacts import measure_artefacts
from mxqc.witness.background import Binned, isotropic_background
from mxqc.witness.detector import Cells, measure_response, module_bands
from mxqc.witness.diffuse import texture
from mxqc.witness.spots import measure_spots, signal_pixels

# cctbx DISTL with its defaults: good Bragg candidates (and resolution, Å, where it gave one)
DISTL = {"thau_3_2_0002": (739, None), "thau_3_2_0003": (765, None),
         "thau_3_2_0005": (713, None), "thau_3_2_0006": (641, None),
         "thau_3_2_0007": (690, None), "thau_3_2_0009": (585, None),
         "thau_3_2_0010": (642, None), "thau_3_2_0011": (603, None),
         "thau_3_2_0013": (455, None), "thau_3_2_0014": (280, None),
         "thau_3_2_0015": (37, None), "thau_3_2_0016": (8, None), "thau_3_2_0017": (5, None),
         "thau_3_2_0018": (6, None), "adsc": (115, None),
         "DLS_I03_smargon_0001": (193, 2.27), "dlsnxs2cbf_therm_0001": (66, None)}
TIMED = ("thau_3_2_0003", "dlsnxs2cbf_therm_0001", "adsc")


def new_geometry(frame, centre) -> dict[str, float]:
    """What a frame whose geometry was not seen before pays on top (seconds): the ring
    analysis's q, χ grid and the background's polar terms, caches cleared."""
    t = {}
    ring_analysis._grid.cache_clear()
    background._polar.cache_clear()
    binned = Binned.of(frame.pixels)
    start = time.perf_counter()
    analyse_rings(frame, centre, binned=binned)
    t["rings"] = time.perf_counter() - start
    quiet = np.isfinite(binned.counts)
    start = time.perf_counter()
    isotropic_background(binned, quiet, centre)
    t["background"] = time.perf_counter() - start
    return t


def stages(frame, centre):
    """Each witness stage run once, in order; returns {stage: seconds}."""
    t = {}
    mark = time.perf_counter()

    def lap(name):
        nonlocal mark
        now = time.perf_counter()
        t[name] = now - mark
        mark = now

    binned = Binned.of(frame.pixels)  # one binned copy for the rings and the witnesses
    valid = np.isfinite(binned.counts)
    counts = np.where(valid, binned.counts, np.float32(0))
    lap("binning")
    rings = analyse_rings(frame, centre, binned=binned)
    lap("rings (grid cached)")
    signal, gain = signal_pixels(counts, valid)
    lap("spot threshold")
    spots, spot_bins = measure_spots(frame, binned, counts, valid, signal, gain, centre)
    lap("spot measurement")
    quiet = valid & ~signal
    expected = isotropic_background(binned, quiet, centre)
    lap("isotropic background")
    layout = module_bands(binned.counts)
    cells = Cells.of(binned, quiet, expected)
    measure_response(binned, cells, centre, gain, layout)
    lap("module gains, steps")
    measure_artefacts(binned, spot_bins, expected, frame.pixels, spots.n_hot_pixels, gain,
                      layout)
    lap("lines, bands")
    texture(cells, gain)
    lap("texture")
    del rings
    return t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--real-frames", default=str(Path(__file__).resolve().parents[2]
                                                     / "shared" / "real-frames"))
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-witness.md")))
    args = parser.parse_args()
    cv2.setNumThreads(1)
    root = Path(args.real_frames)
    paths = {p.name.split(".")[0]: p for p in [*root.glob("*.*"),
                                                *root.glob("thaumatin-grid/*.*")]
             if p.suffix not in (".md", ".csv")}
    lines = ["# Witnesses: cost per frame and the spot finder against DISTL", "",
             f"`.venv/bin/python benchmarks/bench_witness.py --repeats {args.repeats}` "
             "(one core; median of the repeats after a warm-up).", "",
             "## Cost per frame (ms)", ""]
    timed, extra = {}, {}
    for name in TIMED:
        frame = read_frame(paths[name], 0)
        centre = (frame.geometry.beam_x, frame.geometry.beam_y)
        stages(frame, centre)
        runs = [stages(frame, centre) for _ in range(args.repeats)]
        fresh = [new_geometry(frame, centre) for _ in range(args.repeats)]
        extra[name] = 1e3 * float(np.median([sum(f.values()) for f in fresh])) - (
            1e3 * float(np.median([r["rings (grid cached)"]
                                   + r["isotropic background"] for r in runs])))
        timed[f"{name} ({frame.shape[1]}×{frame.shape[0]})"] = {
            k: 1e3 * float(np.median([r[k] for r in runs])) for k in runs[0]}
    names = list(next(iter(timed.values())))
    lines += ["| stage | " + " | ".join(timed) + " |",
              "|---|" + "---:|" * len(timed)]
    lines += [f"| {s} | " + " | ".join(f"{t[s]:.1f}" for t in timed.values()) + " |"
              for s in names]
    lines += ["| **all witnesses** | " + " | ".join(
        f"**{sum(t.values()):.1f}**" for t in timed.values()) + " |"]
    lines += ["| more for a geometry not seen before (ring grid, polar terms) | " + " | ".join(
        f"{extra[name]:.1f}" for name in TIMED) + " |", ""]
    lines += ["## Spots against DISTL (same frames, header beam centre)", "",
              "| frame | DISTL good candidates | mxqc spots | mxqc I/σ ≥ 3 | mxqc resolution (Å) "
              "| DISTL resolution (Å) | median I/σ | background (counts/px) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    ours, theirs = [], []
    for name, (distl, distl_res) in DISTL.items():
        if name not in paths:
            continue
        frame = read_frame(paths[name], 0)
        centre = (frame.geometry.beam_x, frame.geometry.beam_y)
        spots = witness_frame(frame, centre).spots
        ours.append(spots.n_spots)
        theirs.append(distl)
        lines.append(f"| {name} | {distl} | {spots.n_spots} | {spots.n_good} | "
                     f"{spots.resolution_a or '–'} | {distl_res or '–'} | "
                     f"{spots.median_i_sigma:.1f} | {spots.background:.3g} |")
    rank = np.corrcoef(np.argsort(np.argsort(ours)), np.argsort(np.argsort(theirs)))[0, 1]
    lines += ["", f"Spearman rank correlation of the counts over {len(ours)} frames: "
              f"**{rank:.3f}**.", ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
