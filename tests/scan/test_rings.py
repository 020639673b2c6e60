"""Ring analysis on simulated frames whose rings are known."""

import numpy as np
import pytest

from mxqc.classes import CLASSES
from mxqc.frame import Frame, Geometry
from mxqc.scan.rings import analyse_rings
from mxqc.scatterers import ICE_IH
from mxqc.simulate.generate import simulate_frame


def _frame(seed, detector, *names):
    labels = np.zeros(len(CLASSES), int)
    for name in names:
        labels[CLASSES.index(name)] = 1
    sim = simulate_frame(seed, detector=detector, labels=labels)
    return Frame(sim.counts, sim.geometry), sim.scene


@pytest.mark.parametrize("detector", ["pilatus6m", "square1k"])
def test_ice_rings_are_found_at_ice_d_spacings(detector):
    found = 0
    for seed in range(4):
        frame, _ = _frame(seed, detector, "ice_ring")
        ice = analyse_rings(frame).of_kind("ice")
        found += bool(ice)
        for ring in ice:
            nearest = min(abs(ring.d_a - d) / d for d, _ in ICE_IH)
            assert nearest < 0.02, ring
    assert found >= 3, "ice rings missed on most frames with ice"


def test_no_ice_reported_without_ice():
    false = sum(bool(analyse_rings(_frame(seed, "square1k")[0]).of_kind("ice"))
                for seed in range(4))
    assert false <= 1


def test_a_full_powder_ring_is_full_and_at_its_d_spacing():
    yy, xx = np.mgrid[:1024, :1024]
    geometry = Geometry(beam_x=500.0, beam_y=530.0, pixel_size_mm=0.172, distance_mm=200.0,
                        wavelength_a=1.0)
    radius = float(geometry.radius_px(3.897))
    rng = np.random.default_rng(0)
    counts = rng.poisson(20 + 200 * np.exp(-0.5 * ((np.hypot(xx - 500, yy - 530) - radius)
                                                   / 1.5) ** 2)).astype(np.float32)
    counts[:, 300:310] = np.nan  # a module gap
    rings = analyse_rings(Frame(counts, geometry)).rings
    assert len(rings) == 1
    assert rings[0].d_a == pytest.approx(3.897, rel=0.005)
    assert rings[0].kind == "ice" and rings[0].shape == "full" and rings[0].coverage > 0.9


def test_missing_geometry_is_a_clear_error():
    with pytest.raises(ValueError, match="needs pixel size, distance and wavelength"):
        analyse_rings(Frame(np.ones((64, 64), np.float32), Geometry(beam_x=3.0, beam_y=3.0)))
