"""Frames grouped into sweeps, and what each sweep shows per class.

A multi-frame file (an HDF5 master, a multi-image CBF) is one sweep; single-frame files
named ``<prefix><number>.<ext>`` in one folder form a sweep per prefix. Per sweep and class:
how many frames are flagged, the frame ranges, the highest probability, and the evidence
of the frame that holds it (for ice, its d-spacings; for a detector fault, its module).
"""

from __future__ import annotations

import csv
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from mxqc.classes import CLASSES


def sweep_key(row) -> tuple[str, str, int]:
    """(sweep name, label, frame number) of a results row."""
    path = Path(row["file"])
    stem = path.name.split(".")[0]
    match = re.match(r"(.*?)(\d+)$", stem)
    if row["frame"] > 0 or not match:
        return str(path), path.name, int(row["frame"])
    return str(path.parent / match.group(1)), match.group(1) + "#", int(match.group(2))


@dataclass(frozen=True)
class ClassInSweep:
    """One class over one sweep.

    ``held`` and ``call`` read each frame with its neighbours for the classes that belong
    to the sample or the detector and so persist (all but artefacts): a frame holds the
    class when most frames of the ``NEIGHBOURHOOD`` about it are flagged, so a lone flag
    among unflagged frames is dropped and a lone miss inside a run filled, while a change
    part-way (ice forming) keeps its frame. Artefacts come and go per frame: their own flags.
    """

    flagged: int  # frames flagged
    ranges: str  # their frame numbers as ranges ("3–17, 40")
    max_p: float  # the highest probability of any frame
    evidence: str  # the evidence sentence of the flagged frame with the highest probability
    held: str  # frame ranges that hold the class, read with their neighbours
    p_sweep: float  # highest running median of the probability (artefacts: highest)
    call: bool  # the sweep shows the class: some frame holds it


NEIGHBOURHOOD = 5  # frames a frame is read with (itself in the middle)
PER_FRAME = frozenset({"artifact"})  # classes that come and go from frame to frame


def held_flags(flags, name: str) -> list[bool]:
    """Each frame's call read with its neighbours (``ClassInSweep``), in frame order."""
    if name in PER_FRAME:
        return [bool(f) for f in flags]
    half = NEIGHBOURHOOD // 2
    return [2 * sum(window) > len(window)
            for window in (flags[max(i - half, 0):i + half + 1] for i in range(len(flags)))]


def _running_median(values) -> list[float]:
    half = NEIGHBOURHOOD // 2
    return [float(statistics.median(values[max(i - half, 0):i + half + 1]))
            for i in range(len(values))]


@dataclass(frozen=True)
class Sweep:
    """What one sweep's analysed frames show."""

    name: str  # folder/prefix, or the multi-frame file
    label: str  # what to show: "thau_3_2_#" or the file name
    frames: int
    first: int
    last: int
    classes: dict[str, ClassInSweep]
    numbers: tuple[int, ...]  # the frames' numbers, in order
    p: dict[str, tuple[float, ...]]  # per class, each frame's probability
    keys: tuple[tuple[str, int], ...] = ()  # each frame's (file, frame index), in order


def sweep_members(rows) -> list[tuple[str, str, list[tuple[int, dict]]]]:
    """(name, label, [(frame number, row), ...]) per sweep, in name order: frames of one
    template (or one multi-frame file), split where the header's geometry changes (another
    distance, wavelength or beam centre is another sweep, whatever the file names say).
    Rows need ``file``, ``frame`` and the ``GEOMETRY`` keys they have."""
    members = defaultdict(list)
    for row in rows:
        name, label, number = sweep_key(row)
        members[(name, label)].append((number, row))
    sweeps = []
    for (name, label), found in sorted(members.items()):
        runs = _split_by_geometry(sorted(found, key=lambda m: m[0]))
        for run in runs:
            suffix = f" ({run[0][0]}–{run[-1][0]})" if len(runs) > 1 else ""
            sweeps.append((name + suffix, label + suffix, run))
    return sweeps


def group_sweeps(rows) -> list[Sweep]:
    """The sweeps of a scan's analysed rows (``sweep_members``) and what each shows."""
    return [_sweep(name, label, run) for name, label, run in
            sweep_members(r for r in rows if r["status"] == "ok")]


GEOMETRY = ("distance_mm", "wavelength_a", "header_beam_x", "header_beam_y")


def _split_by_geometry(members):
    runs = [[members[0]]]
    for number, row in members[1:]:
        if any(row.get(k) != runs[-1][-1][1].get(k) for k in GEOMETRY):
            runs.append([])
        runs[-1].append((number, row))
    return runs


def _sweep(name, label, members) -> Sweep:
    numbers = [n for n, _ in members]
    classes, p = {}, {}
    for c in CLASSES:
        flags = [bool(r.get(c)) for _, r in members]
        p[c] = tuple(float(r[f"p_{c}"]) for _, r in members)
        flagged = [(n, r) for n, r in members if r.get(c)]
        strongest = max(flagged, key=lambda m: m[1][f"p_{c}"], default=(None, {}))[1]
        held = held_flags(flags, c)
        smooth = list(p[c]) if c in PER_FRAME else _running_median(p[c])
        classes[c] = ClassInSweep(
            len(flagged), frame_ranges([n for n, _ in flagged]), max(p[c]),
            strongest.get(f"evidence_{c}") or "",
            frame_ranges([n for n, h in zip(numbers, held, strict=True) if h]),
            max(smooth), any(held))
    if len(members) == 1:  # a frame alone is named by its file
        label = Path(members[0][1]["file"]).name
    return Sweep(name, label, len(members), numbers[0], numbers[-1], classes,
                 tuple(numbers), p, tuple((r["file"], r["frame"]) for _, r in members))


def frame_ranges(numbers) -> str:
    """Sorted frame numbers as ranges: [3, 4, 5, 9] → "3–5, 9"."""
    runs, start, last = [], None, None
    for n in sorted(numbers):
        if start is not None and n == last + 1:
            last = n
            continue
        if start is not None:
            runs.append((start, last))
        start = last = n
    if start is not None:
        runs.append((start, last))
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def sweep_records(rows) -> list[dict]:
    """One record per sweep: per class the sweep's call and probability, the frames held
    and flagged, their ranges, the highest probability and the strongest frame's evidence
    (``ClassInSweep``); the rows of ``sweeps.csv`` and ``sweeps.parquet``."""
    records = []
    for s in group_sweeps(rows):
        record = {"sweep": s.name, "label": s.label, "frames": s.frames, "first": s.first,
                  "last": s.last}
        for c in CLASSES:
            k = s.classes[c]
            record |= {c: int(k.call), f"{c}_p_sweep": round(k.p_sweep, 4),
                       f"{c}_held": k.held, f"{c}_flagged": k.flagged, f"{c}_frames": k.ranges,
                       f"{c}_max_p": round(k.max_p, 4), f"{c}_evidence": k.evidence}
        records.append(record)
    return records


def write_sweeps(path, records: list[dict]) -> None:
    """``sweeps.csv`` at ``path`` from :func:`sweep_records`."""
    header = ["sweep", "label", "frames", "first", "last"]
    for c in CLASSES:
        header += [c, f"{c}_p_sweep", f"{c}_held", f"{c}_flagged", f"{c}_frames",
                   f"{c}_max_p", f"{c}_evidence"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerows(records)
