"""Beam centres on the shared real frames with their header centres stripped: the error of
each method against the header, at the 1024-px scale of the paper (raw error × 1024 / the
detector's longer edge).

    .venv/bin/python benchmarks/bench_centre.py [--real ../shared/real-frames]

Methods: ``reflex`` (the paper's), ``auto`` on the frame alone (mxqc's default without a
header: point symmetry, the image centre where the frame has none), and ``sweep``: ``auto``
on the sum of the frames of the frame's sweep (the 14 frames of the thaumatin line scan,
which share one beam). Then the same on ``--weak`` simulated weak sweeps (16 frames of
about 0.1 photons per pixel on a 1024² detector, headers without a centre), where the
truth is known. Writes benchmarks/results-centre.md.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from mxqc.centre import locate_beam, locate_sweep_beam
from mxqc.frame import Frame
from mxqc.io import read_frame
from mxqc.simulate.sweep import simulate_sweep

GRID = "thau_3_2_"  # the line scan's frames: one sweep


def stripped(frame: Frame) -> Frame:
    """The frame without its header's beam centre."""
    return replace(frame, geometry=replace(frame.geometry, beam_x=None, beam_y=None))


def error(centre, frame: Frame) -> float:
    """Distance from the header centre at the 1024-px scale."""
    g = frame.geometry
    return float(np.hypot(centre.x - g.beam_x, centre.y - g.beam_y) * 1024 / max(frame.shape))


def weak_sweeps(count: int, frames: int = 16) -> list[str]:
    """Lines of the table for ``count`` simulated weak sweeps."""
    lines = ["", f"## {count} simulated weak sweeps of {frames} frames (exposure 0.3)", "",
             "| seed | auto, frame alone (mean) | worst frame | sweep (sum) | method |",
             "|---:|---:|---:|---:|---|"]
    single_all, swept_all = [], []
    for seed in range(count):
        sweep = simulate_sweep(frames, seed=seed, detector="square1k", labels=(0,) * 7,
                               exposure=0.3)
        truth = Frame(sweep[0].counts, sweep[0].geometry)
        bare = [stripped(Frame(f.counts, f.geometry)) for f in sweep]
        single = [error(locate_beam(f), truth) for f in bare]
        found = locate_sweep_beam(bare)
        single_all += single
        swept_all.append(error(found, truth))
        lines.append(f"| {seed} | {np.mean(single):.1f} | {max(single):.1f} | "
                     f"{swept_all[-1]:.1f} | {found.method} |")
    lines.append(f"| **mean** | **{np.mean(single_all):.1f}** | | "
                 f"**{np.mean(swept_all):.1f}** (median {np.median(swept_all):.1f}) | |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", default=str(Path(__file__).parents[2] / "shared" / "real-frames"))
    parser.add_argument("--weak", type=int, default=20, help="simulated weak sweeps")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-centre.md")))
    args = parser.parse_args()
    paths = sorted(p for p in Path(args.real).rglob("*") if p.is_file()
                   and p.suffix not in {".md", ".csv"})
    frames = {p.name: read_frame(p) for p in paths}
    frames = {name: f for name, f in frames.items() if f.geometry.has_beam}
    grid = [stripped(f) for name, f in sorted(frames.items()) if name.startswith(GRID)]
    swept = locate_sweep_beam(grid)
    lines = ["# Beam centres on the real frames, header centres stripped", "",
             "`.venv/bin/python benchmarks/bench_centre.py`: error against the header centre "
             "at the 1024-px scale.", "",
             "| frame | reflex | auto, frame alone | auto method | sweep (sum) |",
             "|---|---:|---:|---|---:|"]
    errors = {"reflex": [], "auto": [], "sweep": []}
    for name, frame in frames.items():
        bare = stripped(frame)
        reflex = error(locate_beam(bare, method="reflex"), frame)
        auto = locate_beam(bare, method="auto")
        sweep = error(swept, frame) if name.startswith(GRID) else error(auto, frame)
        for key, value in (("reflex", reflex), ("auto", error(auto, frame)), ("sweep", sweep)):
            errors[key].append(value)
        lines.append(f"| {name} | {reflex:.1f} | {error(auto, frame):.1f} | {auto.method} | "
                     f"{sweep:.1f} |")
    lines.append(f"| **mean over {len(frames)}** | **{np.mean(errors['reflex']):.1f}** | "
                 f"**{np.mean(errors['auto']):.1f}** | | **{np.mean(errors['sweep']):.1f}** |")
    lines += ["", f"The sweep: {len(grid)} frames summed, {swept.method}, "
                  f"±{swept.uncertainty or float('nan'):.2f} raw px; frames alone keep their "
                  "own centre in the last column.", *weak_sweeps(args.weak)]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
