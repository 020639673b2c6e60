"""The beam centre from a sweep's sum: a weak sweep without header centres, simulated with a
known beam (square 1024² detector, so raw pixels are the 1024 scale)."""

from dataclasses import replace

import numpy as np
import pytest

from mxqc.centre import locate_beam, locate_sweep_beam
from mxqc.frame import Frame
from mxqc.io.writers import write_cbf
from mxqc.scan import ScanOptions, scan
from mxqc.scan.results import Journal
from mxqc.simulate.sweep import simulate_sweep

FRAMES = 16
EXPOSURE = 0.3  # about 0.1 photons per pixel: a frame alone is too weak to centre
SEED = 1


@pytest.fixture(scope="module")
def weak_sweep():
    """(true beam (x, y), frames without a header centre) of one weak simulated sweep."""
    sweep = simulate_sweep(FRAMES, seed=SEED, detector="square1k", labels=(0,) * 7,
                           exposure=EXPOSURE)
    g = sweep[0].geometry
    return (g.beam_x, g.beam_y), [Frame(f.counts, replace(g, beam_x=None, beam_y=None))
                                  for f in sweep]


def error(centre, beam) -> float:
    return float(np.hypot(centre[0] - beam[0], centre[1] - beam[1]))


def test_the_sum_of_a_weak_sweep_is_centred_where_its_frames_are_not(weak_sweep):
    beam, frames = weak_sweep
    single = [error((c.x, c.y), beam) for c in map(locate_beam, frames)]
    swept = locate_sweep_beam(frames)
    assert np.mean(single) > 5.0
    assert error((swept.x, swept.y), beam) < 2.0
    assert swept.frames == FRAMES and swept.method == "auto/symmetry"


def test_sum_refuses_frames_of_different_shapes(weak_sweep):
    _, frames = weak_sweep
    small = Frame(frames[0].pixels[:512], frames[0].geometry)
    with pytest.raises(ValueError, match="share a shape"):
        locate_sweep_beam([frames[0], small])


def test_a_scan_gives_every_frame_of_a_headerless_sweep_its_sum_centre(weak_sweep, tmp_path):
    beam, frames = weak_sweep
    (tmp_path / "in").mkdir()
    for i, frame in enumerate(frames):
        write_cbf(tmp_path / "in" / f"weak_{i + 1:04d}.cbf", frame.pixels, frame.geometry)
    write_cbf(tmp_path / "in" / "alone_0001.cbf", frames[0].pixels, frames[0].geometry)
    summary = scan([str(tmp_path / "in")], tmp_path / "out",
                   options=ScanOptions(heatmaps=False), workers=2)
    rows = {r["file"].rsplit("/", 1)[1]: r for r in Journal(tmp_path / "out").rows()}
    sweep = [r for name, r in rows.items() if name.startswith("weak")]
    assert len(sweep) == FRAMES and summary.recentred > 0
    for row in sweep:
        assert row["status"] == "ok"
        assert row["centre_method"] == "sweep/auto/symmetry" and row["centre_frames"] == FRAMES
        assert error((row["centre_x"], row["centre_y"]), beam) < 2.0
    alone = rows["alone_0001.cbf"]
    assert alone["centre_frames"] == 1 and not alone["centre_method"].startswith("sweep/")


@pytest.fixture(scope="module")
def ringed_sweep():
    """12 frames of one simulated sweep with water rings, their header centre right."""
    sweep = simulate_sweep(12, seed=3, detector="square1k", labels=(0, 1, 0, 0, 0, 0, 0))
    return [Frame(f.counts, f.geometry) for f in sweep]


def _batch_centres(frames, tmp_path, monkeypatch, shift=0.0):
    """Each frame's centre from one batch's analysis, and how many images were checked."""
    import mxqc.scan.centres as centres
    from mxqc.scan.analyse import analyse_units

    checked = []
    monkeypatch.setattr(centres, "locate_beam",
                        lambda *a, **k: checked.append(1) or locate_beam(*a, **k))
    for i, frame in enumerate(frames):
        g = replace(frame.geometry, beam_x=frame.geometry.beam_x + shift)
        write_cbf(tmp_path / f"ring_{i + 1:04d}.cbf", frame.pixels, g)
    rows = analyse_units([(str(p), 0) for p in sorted(tmp_path.glob("ring_*.cbf"))],
                         ScanOptions(heatmaps=False))
    return rows, len(checked)


def test_a_header_the_image_confirmed_serves_the_next_frames_of_its_batch(
        ringed_sweep, tmp_path, monkeypatch):
    rows, checked = _batch_centres(ringed_sweep, tmp_path, monkeypatch)
    g = ringed_sweep[0].geometry
    assert checked == 2  # the first frame and the ninth (RECHECK = 8)
    assert all(r.centre_method == "auto/header" and r.centre_uncertainty_px is not None
               and (r.centre_x, r.centre_y) == (round(g.beam_x, 2), round(g.beam_y, 2))
               for r in rows)


def test_a_header_the_image_contradicts_is_checked_on_every_frame(
        ringed_sweep, tmp_path, monkeypatch):
    rows, checked = _batch_centres(ringed_sweep, tmp_path, monkeypatch, shift=40.0)
    beam = (ringed_sweep[0].geometry.beam_x, ringed_sweep[0].geometry.beam_y)
    assert checked == len(rows)
    assert all(r.centre_method == "auto/symmetry" for r in rows)
    assert max(error((r.centre_x, r.centre_y), beam) for r in rows) < 3.0
