"""Frames grouped into sweeps, and what each sweep shows per class.

A multi-frame file (an HDF5 master, a multi-image CBF) is one sweep; single-frame files
named ``<prefix><number>.<ext>`` in one folder form a sweep per prefix. Per sweep and class:
how many frames are flagged, the frame ranges, the highest probability, and the evidence
of the frame that holds it (for ice, its d-spacings; for a detector fault, its module).
"""

from __future__ import annotations

import csv
import re
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
    """One class over one sweep."""

    flagged: int  # frames flagged
    ranges: str  # their frame numbers as ranges ("3–17, 40")
    max_p: float  # the highest probability of any frame
    evidence: str  # the evidence sentence of the flagged frame with the highest probability


@dataclass(frozen=True)
class Sweep:
    """What one sweep's analysed frames show."""

    name: str  # folder/prefix, or the multi-frame file
    label: str  # what to show: "thau_3_2_#" or the file name
    frames: int
    first: int
    last: int
    classes: dict[str, ClassInSweep]

    def share(self, name: str) -> float:
        return self.classes[name].flagged / self.frames


def group_sweeps(rows) -> list[Sweep]:
    """The sweeps of a scan's analysed rows, in name order."""
    members = defaultdict(list)
    for row in rows:
        if row["status"] == "ok":
            name, label, number = sweep_key(row)
            members[(name, label)].append((number, row))
    return [_sweep(name, label, sorted(found, key=lambda m: m[0]))
            for (name, label), found in sorted(members.items())]


def _sweep(name, label, members) -> Sweep:
    numbers = [n for n, _ in members]
    classes = {}
    for c in CLASSES:
        flagged = [(n, r) for n, r in members if r.get(c)]
        strongest = max(flagged, key=lambda m: m[1][f"p_{c}"], default=(None, {}))[1]
        classes[c] = ClassInSweep(len(flagged), frame_ranges([n for n, _ in flagged]),
                                  max(r[f"p_{c}"] for _, r in members),
                                  strongest.get(f"evidence_{c}") or "")
    if len(members) == 1:  # a frame alone is named by its file
        label = Path(members[0][1]["file"]).name
    return Sweep(name, label, len(members), numbers[0], numbers[-1], classes)


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


def write_sweeps(path, rows) -> None:
    """``sweeps.csv`` at ``path``: one row per sweep, per class the frames flagged, their
    ranges, the highest probability and the strongest frame's evidence."""
    header = ["sweep", "label", "frames", "first", "last"]
    for c in CLASSES:
        header += [f"{c}_flagged", f"{c}_frames", f"{c}_max_p", f"{c}_evidence"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for s in group_sweeps(rows):
            line = [s.name, s.label, s.frames, s.first, s.last]
            for c in CLASSES:
                k = s.classes[c]
                line += [k.flagged, k.ranges, round(k.max_p, 4), k.evidence]
            writer.writerow(line)
