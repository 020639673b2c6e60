"""The default model on the shared real frames: no false alarm a crystallographer sees at
once on normal frames, and the clear anomaly kept.

Part of these frames were canvases for the default model's training (its model card says
which); DLS_I03_smargon_0001 was not, and is the held-out normal PILATUS frame here."""

from __future__ import annotations

import csv

import pytest

from mxqc.scan import scan

NORMAL = ("thau_3_2_0016.cbf.bz2", "DLS_I03_smargon_0001.cbf.gz",
          "dlsnxs2cbf_therm_0001.cbf.gz")
NEVER_ON_NORMAL = ("non_uniform_detector", "artifact", "ice_ring")
TIMEPIX = "TIMEPIX_SU_516-stdgoni_0001.img"


@pytest.fixture(scope="module")
def verdicts(real_frames, tmp_path_factory):
    paths = [real_frames / n for n in (*NORMAL, "adsc.img.bz2", TIMEPIX)]
    paths += sorted((real_frames / "thaumatin-grid").glob("*.cbf.bz2"))
    out = tmp_path_factory.mktemp("real-scan")
    scan([str(p) for p in paths], out)
    with open(out / "results.csv", newline="") as f:
        rows = {r["file"].rsplit("/", 1)[-1]: r for r in csv.DictReader(f)}
    assert all(r["status"] == "ok" for r in rows.values()), rows
    return rows


def test_no_detector_ice_or_artefact_flag_on_normal_pilatus_and_eiger_frames(verdicts):
    flagged = {(name, c): row[f"p_{c}"] for name, row in verdicts.items()
               if name not in ("adsc.img.bz2", TIMEPIX) for c in NEVER_ON_NORMAL
               if row[c] == "1"}
    assert not flagged


def test_the_adsc_water_ring_is_kept(verdicts):
    assert verdicts["adsc.img.bz2"]["background_ring"] == "1"


def test_the_adsc_water_ring_flag_carries_its_measured_d_spacing(verdicts):
    said = verdicts["adsc.img.bz2"]["evidence_background_ring"]
    assert said.startswith("water ring at ")
    assert 3.0 <= float(said.split()[3]) <= 3.7


def test_the_adsc_tile_step_flag_carries_what_was_measured(verdicts):
    """Its tiles' steps (~6 %) are under what a sentence needs on its own (normal frames'
    modules read up to ±12 %), so the flag shows the measurement and says so."""
    row = verdicts["adsc.img.bz2"]
    assert row["non_uniform_detector"] == "1"
    said = row["evidence_non_uniform_detector"]
    assert said.startswith("module (1, 1) reads ") and "% above its neighbours (under" in said
    assert not any(row["evidence_non_uniform_detector"] for name, row in verdicts.items()
                   if name in NORMAL)


def test_the_timepix_cross_is_an_artefact_and_the_networks_lone_ice_is_not_kept(verdicts):
    """The electron frame's enlarged gap pixels make a cross; the network, out of its
    domain, calls ice where the ring analysis, about a centre the header and the image
    agree on, finds no ring at any of ice's lines."""
    row = verdicts[TIMEPIX]
    assert row["artifact"] == "1" and row["evidence_artifact"].endswith("(a cross)")
    assert float(row["p_cnn_ice_ring"]) > 0.5 and float(row["w_ice_absent"]) == 1.0
    assert row["ice_ring"] == "0"


def test_the_scan_reports_spots_that_follow_the_grid_on_and_off_the_crystal(verdicts):
    spots = {name[9:13]: int(row["n_spots"]) for name, row in verdicts.items()
             if name.startswith("thau_3_2_")}
    off = max(spots[k] for k in ("0016", "0017", "0018"))
    assert min(spots[k] for k in ("0002", "0003", "0005", "0007", "0010")) > 20 * max(off, 1)
    assert verdicts["thau_3_2_0003.cbf.bz2"]["resolution_a"] != ""
    assert verdicts["thau_3_2_0018.cbf.bz2"]["resolution_a"] == ""
