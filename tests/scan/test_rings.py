"""Ring analysis on simulated frames whose rings are known."""

import numpy as np
import pytest

from mxqc.classes import CLASSES
from mxqc.frame import Frame, Geometry
from mxqc.scan.rings import Ring, _confirm_ice, analyse_rings
from mxqc.scatterers import ICE_IH
from mxqc.simulate.generate import simulate_frame
from mxqc.witness.background import Binned


def _frame(seed, detector, *names):
    labels = np.zeros(len(CLASSES), int)
    for name in names:
        labels[CLASSES.index(name)] = 1
    sim = simulate_frame(seed, detector=detector, labels=labels)
    return Frame(sim.counts, sim.geometry), sim.scene


@pytest.mark.parametrize("detector", ["pilatus6m", "square1k"])
def test_ice_rings_are_found_at_ice_d_spacings(detector):
    found = 0
    for seed in range(8):
        frame, _ = _frame(seed, detector, "ice_ring")
        ice = analyse_rings(frame).of_kind("ice")
        found += bool(ice)
        for ring in ice:
            nearest = min(abs(ring.d_a - d) / d for d, _ in ICE_IH)
            assert nearest < 0.02, ring
    assert found >= 5, "ice rings missed on most frames with ice"


def test_no_ice_reported_without_ice():
    false = sum(bool(analyse_rings(_frame(seed, "square1k")[0]).of_kind("ice"))
                for seed in range(4))
    assert false <= 1


def _powder(spacings):
    """Rings of a 1024² frame with full powder rings at ``spacings`` (Å) and a module gap."""
    return _powder_analysis(spacings).rings


def _powder_analysis(spacings):
    yy, xx = np.mgrid[:1024, :1024]
    geometry = Geometry(beam_x=500.0, beam_y=530.0, pixel_size_mm=0.172, distance_mm=200.0,
                        wavelength_a=1.0)
    r = np.hypot(xx - 500, yy - 530)
    mean = 20 + sum(200 * np.exp(-0.5 * ((r - float(geometry.radius_px(d))) / 1.5) ** 2)
                    for d in spacings)
    counts = np.random.default_rng(0).poisson(mean).astype(np.float32)
    counts[:, 300:310] = np.nan  # a module gap
    return analyse_rings(Frame(counts, geometry))


def test_full_powder_rings_are_full_and_at_their_d_spacings():
    rings = _powder((3.897, 3.669, 3.441))
    assert [r.d_a for r in rings] == pytest.approx([3.897, 3.669, 3.441], rel=0.005)
    assert all(r.kind == "ice" and r.shape == "full" and r.coverage > 0.9 for r in rings)


def test_one_line_at_an_ice_spacing_is_not_ice():
    """Ice shows its 3.90/3.67/3.44 Å triplet; a lone line there is a calibrant's or a small
    cell's."""
    (ring,) = _powder((3.897,))
    assert ring.d_a == pytest.approx(3.897, rel=0.005)
    assert ring.kind == "other" and ring.shape == "full"


def _q(d):
    return 2 * np.pi / d


@pytest.mark.parametrize("lines, edge_a, kind", [
    ((3.90,), 3.8, "ice"),  # the triplet's other lines lie beyond the detector
    ((3.90,), 2.0, "other"),  # ... or on it, and do not show
    ((3.67,), 2.5, "ice"),  # cubic ice, its 2.25 Å line beyond the detector
    ((3.67,), 2.0, "other"),
    ((3.90, 3.44), 2.0, "ice"),
    ((3.48, 2.09), 1.5, "other"),  # corundum: 1.1 % from ice lines, outside the tolerance
])
def test_ice_is_judged_as_a_pattern_over_the_lines_on_the_detector(lines, edge_a, kind):
    rings = [Ring(d, 0.03, 20.0, 1.0, "ice", "full") for d in lines]
    judged = _confirm_ice(rings, (0.1, _q(edge_a)))
    assert {r.kind for r in judged} <= {kind, "other"}
    assert judged[0].kind == kind


def test_ice_read_through_a_wrong_distance_is_not_called_absent():
    """A header distance 2 % off moves ice's rings 2 % off its lines: not ice at 1 %, but
    not evidence that ice is absent either."""
    shifted = _powder_analysis([d * 1.02 for d in (3.897, 3.669, 3.441)])
    assert not shifted.of_kind("ice") and shifted.absent_ice_lines() == ()
    assert _powder_analysis((6.0,)).absent_ice_lines()[:3] == (3.9, 3.67, 3.44)


def test_missing_geometry_is_a_clear_error():
    with pytest.raises(ValueError, match="needs pixel size, distance and wavelength"):
        analyse_rings(Frame(np.ones((64, 64), np.float32), Geometry(beam_x=3.0, beam_y=3.0)))


@pytest.mark.parametrize("geometry", [((842, 821), 410.0, 421.0, 0.516, 250.0, 1.0),
                                      ((600, 500), -40.0, 620.0, 0.172, 120.0, 0.7)])
def test_the_ring_grid_is_pyfais_geometry(geometry):
    """q, χ bins and solid angles as pyFAI's integrator gives them, for a centre inside
    the frame and one beyond its corner."""
    pytest.importorskip("pyFAI", reason="pyFAI (a test dependency) is not installed")
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    from mxqc.scan.rings import N_AZIMUTHAL, N_RADIAL, _bin_index, _grid

    shape, bx, by, pixel_mm, distance_mm, wavelength_a = geometry
    px = pixel_mm * 1e-3
    ai = AzimuthalIntegrator(dist=distance_mm * 1e-3, poni1=(by + 0.5) * px,
                             poni2=(bx + 0.5) * px, pixel1=px, pixel2=px,
                             wavelength=wavelength_a * 1e-10)  # pixel centres at i + 0.5
    q = ai.center_array(shape, unit="q_A^-1")
    index = (_bin_index(ai.center_array(shape, unit="chi_rad"), N_AZIMUTHAL) * N_RADIAL
             + _bin_index(q, N_RADIAL)).ravel()
    grid = _grid(shape, bx, by, pixel_mm, distance_mm, wavelength_a)
    assert np.mean(grid.index == index) > 0.9999  # a bin edge may fall between them
    np.testing.assert_allclose(grid.solid_angle, ai.solidAngleArray(shape).ravel(), rtol=1e-5)
    width = (q.max() - q.min()) / N_RADIAL
    np.testing.assert_allclose(grid.q, q.min() + (np.arange(N_RADIAL) + 0.5) * width,
                               rtol=1e-9)


@pytest.mark.parametrize("detector", ["pilatus6m", "square1k"])
def test_the_rings_work_on_the_callers_bins_without_filling_their_gaps(detector):
    """The ring analysis integrates the witnesses' bins (3×3 on a 6M; on a 1024² frame the
    bins are the frame's own pixels): given them, it finds what it finds alone, and
    leaves their NaN gaps and the frame as they were."""
    frame, _ = _frame(3, detector, "ice_ring")
    frame.pixels[:, 500] = np.nan  # a masked column, on the gap-free square too
    binned = Binned.of(frame.pixels)
    gaps, pixels = np.isnan(binned.counts).sum(), frame.pixels.copy()
    shared = analyse_rings(frame, binned=binned)
    assert np.isnan(binned.counts).sum() == gaps > 0
    np.testing.assert_array_equal(frame.pixels, pixels)
    assert shared.of_kind("ice")
    assert [(r.d_a, r.kind) for r in shared.rings] == [
        (r.d_a, r.kind) for r in analyse_rings(frame).rings]
