"""Frames grouped into sweeps, and each sweep's per-class verdict with its evidence."""

import csv

from mxqc.classes import CLASSES
from mxqc.scan.results import write_tables
from mxqc.scan.sweeps import frame_ranges, group_sweeps, held_flags


def _row(file, frame, **flags):
    row = {"file": file, "frame": frame, "status": "ok", "error": ""}
    for c in CLASSES:
        p = flags.get(c, 0.0)
        row |= {f"p_{c}": p, c: int(p > 0.5), f"evidence_{c}": ""}
    return row


def test_one_template_splits_into_sweeps_where_the_geometry_changes():
    rows = [_row(f"/data/sim_{n:06d}.cbf", 0) | {"distance_mm": 200.0 + 50 * (n // 4)}
            for n in range(12)]
    sweeps = group_sweeps(rows)
    assert [(s.frames, s.first, s.last) for s in sweeps] == [(4, 0, 3), (4, 4, 7), (4, 8, 11)]
    assert sweeps[1].label == "sim_# (4–7)"


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


def test_frames_read_with_their_neighbours_drop_lone_flags_but_keep_changes_and_artefacts():
    lone_flag = [0, 0, 0, 1, 0, 0, 0, 0]
    lone_miss = [1, 1, 1, 0, 1, 1, 1, 1]
    forming = [0] * 6 + [1] * 6  # ice forming from frame 6 on
    assert held_flags(lone_flag, "ice_ring") == [False] * 8
    assert held_flags(lone_miss, "ice_ring") == [True] * 8
    held = held_flags(forming, "ice_ring")
    assert held.index(True) == 6 and all(held[6:])
    assert held_flags(lone_flag, "artifact") == [bool(f) for f in lone_flag]  # a shutter band


def test_the_sweep_call_reads_frames_with_their_neighbours():
    rows = [_row(f"/d/x_{n:03d}.cbf", 0, ice_ring=0.9 if n == 4 else 0.1,
                 artifact=0.9 if n == 4 else 0.0, background_ring=0.9 if n >= 5 else 0.1)
            for n in range(10)]
    (sweep,) = group_sweeps(rows)
    ice, shutter, water = (sweep.classes[c] for c in ("ice_ring", "artifact",
                                                        "background_ring"))
    assert ice.flagged == 1 and not ice.call and ice.held == ""
    assert shutter.call and shutter.held == "4"
    assert water.call and water.held == "5–9" and water.p_sweep == 0.9


def test_sweeps_csv_for_a_sweep_with_ice_from_frame_30_on(tmp_path):
    ice = {n: 0.9 for n in range(30, 60)} | {12: 0.8, 41: 0.2}  # a lone flag, a lone miss
    rows = [_row(f"/beam/run/xtal_{n:04d}.cbf", 0, ice_ring=ice.get(n, 0.05)) for n in range(60)]
    rows[44]["p_ice_ring"] = 0.99
    rows[44]["evidence_ice_ring"] = "ice rings at 3.90, 3.67, 3.44 Å (3 full)"
    written = write_tables(tmp_path, rows, metadata={})["sweeps"]
    with open(written, newline="") as f:
        (record,) = csv.DictReader(f)
    assert (record["label"], record["frames"], record["first"], record["last"]) == \
        ("xtal_#", "60", "0", "59")
    assert record["ice_ring"] == "1" and record["ice_ring_held"] == "30–59"
    assert record["ice_ring_flagged"] == "30" and record["ice_ring_frames"] == "12, 30–40, 42–59"
    assert record["ice_ring_max_p"] == "0.99"
    assert record["ice_ring_evidence"].startswith("ice rings at 3.90")
    assert record["background_ring"] == "0" and record["background_ring_held"] == ""


def test_heatmaps_are_a_list_in_every_table_and_old_journals_still_read(tmp_path):
    import json

    import pyarrow.parquet as pq

    from mxqc.scan.results import heatmap_list

    new = _row("/d/a_0001.cbf", 0, ice_ring=0.9) | {
        "heatmaps": [{"class": "ice_ring", "image": "images/a_ice_ring.jpg"}]}
    old = _row("/d/a_0002.cbf", 0, ice_ring=0.9) | {"heatmaps": "ice_ring=images/b.png"}
    written = write_tables(tmp_path, [new, old], metadata={})
    column = pq.read_table(written["parquet"]).column("heatmaps").to_pylist()
    assert column == [[{"class": "ice_ring", "image": "images/a_ice_ring.jpg"}],
                      [{"class": "ice_ring", "image": "images/b.png"}]]
    with open(written["csv"], newline="") as f:
        cells = [json.loads(r["heatmaps"]) for r in csv.DictReader(f)]
    assert cells == column  # the same schema in CSV, as JSON
    assert heatmap_list(None) == heatmap_list("") == []
