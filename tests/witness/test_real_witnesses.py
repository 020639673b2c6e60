"""Witnesses on the shared real frames: the spot finder follows the grid scan on and off
the crystal, normal frames get no detector or artefact evidence, and the clear anomalies
are measured where they are."""

from __future__ import annotations

import pytest

from mxqc.io import read_frame
from mxqc.scan.rings import analyse_rings
from mxqc.witness import witness_frame

ON_CRYSTAL = ("0002", "0003", "0005", "0006", "0007", "0009", "0010", "0011")
LEAVING = ("0013", "0014", "0015")
OFF_CRYSTAL = ("0017", "0018")
NORMAL = ("thau_3_2_0016.cbf.bz2", "DLS_I03_smargon_0001.cbf.gz",
          "dlsnxs2cbf_therm_0001.cbf.gz")


def _witness(path):
    frame = read_frame(path, 0)
    g = frame.geometry
    centre = (g.beam_x, g.beam_y)
    return witness_frame(frame, centre, analyse_rings(frame, centre))


@pytest.fixture(scope="module")
def grid(real_frames):
    return {p.name[9:13]: _witness(p)
            for p in sorted((real_frames / "thaumatin-grid").glob("thau_3_2_*.cbf.bz2"))}


@pytest.fixture(scope="module")
def others(real_frames):
    names = (*NORMAL, "adsc.img.bz2", "TIMEPIX_SU_516-stdgoni_0001.img")
    return {name: _witness(real_frames / name) for name in names}


def test_spot_counts_follow_the_grid_scan_on_and_off_the_crystal(grid):
    spots = {k: w.spots.n_spots for k, w in grid.items()}
    off = max(spots[k] for k in OFF_CRYSTAL)
    assert min(spots[k] for k in ON_CRYSTAL) > 20 * max(off, 1)
    assert [spots[k] for k in LEAVING] == sorted((spots[k] for k in LEAVING), reverse=True)
    assert min(spots[k] for k in ON_CRYSTAL) > spots["0013"] > spots["0015"] > off
    assert all(1.7 <= grid[k].spots.resolution_a <= 2.5 for k in ON_CRYSTAL)
    assert all(grid[k].spots.resolution_a is None for k in OFF_CRYSTAL)


def test_no_detector_or_artefact_evidence_on_normal_pilatus_and_eiger_frames(grid, others):
    frames = {**{f"thau_3_2_{k}": w for k, w in grid.items()},
              **{n: others[n] for n in NORMAL}}
    said = {(name, c): w.evidence[c].sentence for name, w in frames.items()
            for c in ("non_uniform_detector", "artifact", "ice_ring")
            if w.evidence[c].sentence}
    assert not said


def test_the_adsc_water_ring_and_high_background_are_measured(others):
    adsc = others["adsc.img.bz2"]
    water = adsc.evidence["background_ring"].sentence
    assert water.startswith("water ring at 3.")
    assert 3.0 <= float(water.split()[3]) <= 3.7
    assert adsc.spots.background > 20 * max(w.spots.background for n, w in others.items()
                                            if n in NORMAL)


def test_the_timepix_gap_cross_is_an_artefact(others):
    """The quad's enlarged pixels: the 2 × 3 raw lines between its chips, each way."""
    found = others["TIMEPIX_SU_516-stdgoni_0001.img"].artefacts
    assert [(arm.axis, arm.start, arm.end) for arm in found.arms] == [("row", 255, 260),
                                                                      ("column", 255, 260)]
    assert found.cross > 0.5
    said = others["TIMEPIX_SU_516-stdgoni_0001.img"].evidence["artifact"].sentence
    assert said.startswith("rows 255–260 and columns 255–260 read +")
    assert said.endswith("(a cross)")
