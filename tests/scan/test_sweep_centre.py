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
