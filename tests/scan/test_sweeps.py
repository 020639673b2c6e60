"""Frames grouped into sweeps, and each sweep's per-class verdict with its evidence."""

import csv

from mxqc.classes import CLASSES
from mxqc.scan.results import write_tables
from mxqc.scan.sweeps import frame_ranges, group_sweeps


def _row(file, frame, **flags):
    row = {"file": file, "frame": frame, "status": "ok", "error": ""}
    for c in CLASSES:
        p = flags.get(c, 0.0)
        row |= {f"p_{c}": p, c: int(p > 0.5), f"evidence_{c}": ""}
    return row


def test_frame_ranges():
    assert frame_ranges([9, 3, 4, 5, 11, 12]) == "3–5, 9, 11–12"
    assert frame_ranges([]) == ""


def test_sweeps_by_template_and_file_with_the_strongest_frames_evidence(tmp_path):
    rows = [_row(f"/data/run1/ice_{n:04d}.cbf", 0, ice_ring=0.9 if 10 <= n < 15 else 0.1)
            for n in range(1, 21)]
    rows[12]["p_ice_ring"] = 0.97
    rows[12]["evidence_ice_ring"] = "ice rings at 3.90, 3.67, 3.44 Å (3 full)"
    rows += [_row("/data/run1/other_0001.cbf", 0)]
    rows += [_row("/data/run2/master.h5", i, artifact=0.8 if i == 3 else 0.0) for i in range(6)]
    rows += [{"file": "/data/run1/ice_0021.cbf", "frame": 0, "status": "error", "error": "x"}]
    sweeps = {s.label: s for s in group_sweeps(rows)}
    assert set(sweeps) == {"ice_#", "other_0001.cbf", "master.h5"}
    ice = sweeps["ice_#"]
    assert (ice.frames, ice.first, ice.last) == (20, 1, 20)
    assert ice.classes["ice_ring"].flagged == 5 and ice.classes["ice_ring"].ranges == "10–14"
    assert ice.classes["ice_ring"].evidence.startswith("ice rings at 3.90")
    assert sweeps["master.h5"].classes["artifact"].ranges == "3"
    assert ice.classes["artifact"].flagged == 0
    written = write_tables(tmp_path, rows, metadata={})["sweeps"]
    with open(written, newline="") as f:
        table = {r["label"]: r for r in csv.DictReader(f)}
    assert table["ice_#"]["ice_ring_frames"] == "10–14"
    assert table["ice_#"]["ice_ring_flagged"] == "5"
