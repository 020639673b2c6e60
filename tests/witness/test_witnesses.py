"""Witnesses on simulated frames whose truth is known: a drawn gain step is measured, a
dead column found at its index, ice at its d-spacings, and a clean frame says nothing."""

import warnings
from dataclasses import replace

import numpy as np
import pytest

from mxqc.classes import CLASSES
from mxqc.frame import Frame, Geometry
from mxqc.scan.rings import analyse_rings
from mxqc.simulate import sample_scene
from mxqc.simulate.generate import judge_scene
from mxqc.witness import weak_evidence, witness_frame
from mxqc.witness.detector import nan_median
from mxqc.witness.spots import find_spots

SILENT = [c for c in CLASSES if c != "strong_background"]  # that one always reports spots


def clean(detector: str, seed: int = 1, **changes):
    """A simulated frame with no anomaly drawn, its scene and beam centre."""
    scene = replace(sample_scene(np.random.default_rng(seed), detector, (0,) * 7, seed=seed),
                    **changes)
    sim = judge_scene(scene)
    return Frame(sim.counts, sim.geometry), scene, (sim.geometry.beam_x, sim.geometry.beam_y)


def witnessed(frame, centre):
    return witness_frame(frame, centre, analyse_rings(frame, centre))


@pytest.fixture(scope="module")
def pilatus():
    return clean("pilatus6m")


def test_a_clean_frame_gives_no_evidence(pilatus):
    frame, _, centre = pilatus
    found = witnessed(frame, centre)
    assert {c: found.evidence[c].sentence for c in SILENT if found.evidence[c].sentence} == {}
    assert "spots" in found.evidence["strong_background"].sentence
    assert weak_evidence(found).keys() <= {"non_uniform_detector", "diffuse_scattering"}


@pytest.mark.parametrize("module", [17, 30])
def test_a_ten_percent_module_gain_is_measured_within_two_percent(pilatus, module):
    frame, scene, centre = pilatus
    counts = frame.pixels.copy()
    counts[scene.model.module_map() == module] *= 1.10
    response = witnessed(Frame(counts, frame.geometry), centre).response
    assert response.module == divmod(module, scene.model.modules[1])
    assert response.module_deviation == pytest.approx(0.10, abs=0.02)
    evidence = witnessed(Frame(counts, frame.geometry), centre).evidence["non_uniform_detector"]
    # under what normal frames show: not said, but kept for a flag to rest on
    assert evidence.sentence == ""
    assert evidence.measured == (f"module {response.module} reads "
                                 f"{response.module_deviation:.0%} above its neighbours "
                                 "(under 15%: within what normal frames show)")


def test_a_dead_module_is_named_and_said(pilatus):
    frame, scene, centre = pilatus
    counts = frame.pixels.copy()
    counts[scene.model.module_map() == 41] = 0
    found = witnessed(Frame(counts, frame.geometry), centre)
    assert found.response.module == divmod(41, 5)
    assert found.response.module_deviation == pytest.approx(-1.0, abs=0.05)
    assert "module (8, 1) reads 100% below its neighbours" in found.evidence[
        "non_uniform_detector"].sentence


def test_a_dead_column_is_found_at_its_index_over_its_length(pilatus):
    frame, _, centre = pilatus
    counts = frame.pixels.copy()
    counts[:, 1247] = 0
    found = witnessed(Frame(counts, frame.geometry), centre)
    line = found.artefacts.lines[0]
    assert (line.axis, line.first, line.width, line.kind) == ("column", 1247, 1, "dead")
    assert line.end - line.start > 0.9 * frame.shape[0]
    assert found.evidence["artifact"].sentence.startswith("column 1247 dead over rows")
    assert found.artefacts.span > 0.9


def test_a_readout_streak_is_a_hot_row_over_its_length_not_a_spot(pilatus):
    frame, _, centre = pilatus
    counts = frame.pixels.copy()
    streak = counts[700, 400:1000]  # a view: module gaps on the row stay NaN
    streak[np.isfinite(streak)] = 1e5 * np.exp(-np.arange(600) / 200)[np.isfinite(streak)]
    found = witnessed(Frame(counts, frame.geometry), centre)
    line = found.artefacts.lines[0]
    assert (line.axis, line.first, line.width, line.kind) == ("row", 700, 1, "hot")
    assert line.start <= 432 and line.end >= 960
    assert found.artefacts.span == pytest.approx((line.end - line.start + 1) / frame.shape[1],
                                                 abs=0.001)
    assert found.spots.n_spots <= witnessed(frame, centre).spots.n_spots
    assert found.evidence["artifact"].sentence.startswith("row 700 at ")


def test_a_shutter_band_is_found_at_its_rows():
    frame, _, centre = clean("square1k", seed=3)
    counts = frame.pixels.copy()
    counts[400:480] *= 0.5
    (band,) = witnessed(Frame(counts, frame.geometry), centre).artefacts.bands
    assert band.axis == "row" and band.ratio == pytest.approx(0.5, abs=0.08)
    assert abs(band.start - 400) <= 4 and abs(band.end - 479) <= 4


def test_a_cross_of_enlarged_pixels_is_found_at_its_raw_lines(pilatus):
    frame, _, centre = pilatus
    counts = frame.pixels.copy()
    counts[1200:1204] *= 2  # four raw lines each way, at twice a pixel's area
    counts[:, 1500:1504] *= 2
    found = witnessed(Frame(counts, frame.geometry), centre)
    rows, columns = found.artefacts.arms
    for arm, axis, first in ((rows, "row", 1200), (columns, "column", 1500)):
        assert (arm.axis, arm.start, arm.end) == (axis, first, first + 3)
        assert arm.ratio == pytest.approx(2.0, abs=0.05)
    assert found.artefacts.cross == min(rows.ratio, columns.ratio) - 1
    said = found.evidence["artifact"].sentence
    # the arms' hot pieces and bands are said as the cross, not again
    assert said.startswith("rows 1200–1203 and columns 1500–1503 read +")
    assert said.endswith("across the frame (a cross)") and said.count("1200") == 1


@pytest.mark.parametrize("kind", ["shutter band", "dark quarter"])
def test_a_cross_is_found_beside_a_band_and_over_a_background_not_isotropic(kind):
    """A longer band of rows, or a shadow over a quarter of the frame, once hid a cross:
    bands were judged against the isotropic background, one per axis."""
    frame, _, centre = clean("square1k", seed=3)
    counts = frame.pixels.copy()
    if kind == "shutter band":
        counts[100:180] *= 1.6
    else:
        counts[:, :256] *= 0.3
    counts[600:603] *= 1.8
    counts[:, 700:703] *= 1.8
    arms = witnessed(Frame(counts, frame.geometry), centre).artefacts.arms
    assert [(a.axis, a.start, a.end) for a in arms] == [("row", 600, 602), ("column", 700, 702)]
    assert all(a.ratio == pytest.approx(1.8, abs=0.1) for a in arms)


def test_a_shutter_band_alone_is_no_cross():
    frame, _, centre = clean("square1k", seed=3)
    counts = frame.pixels.copy()
    counts[400:480] *= 1.6
    found = witnessed(Frame(counts, frame.geometry), centre)
    assert [b.axis for b in found.artefacts.bands] == ["row"]
    assert found.artefacts.arms == () and found.artefacts.cross == 0


def test_ice_is_found_at_its_d_spacings_within_one_percent():
    frame, _, centre = clean("square1k", seed=3, ice=(20.0, 0.002, 0.0, 0),
                             labels=(0, 0, 0, 0, 0, 1, 0))
    found = witnessed(frame, centre)
    ice = [r for r in analyse_rings(frame, centre).rings if r.kind == "ice"]
    assert len(ice) >= 3
    for ring in ice:
        assert min(abs(ring.d_a - d) / d for d in (3.897, 3.669, 3.441, 2.249, 2.072,
                                                   1.918, 2.671, 1.883)) < 0.01
    said = found.evidence["ice_ring"].sentence
    assert said.startswith("ice rings at ") and said.endswith(")")
    assert said[13:said.index(" Å")].split(", ") == [f"{r.d_a:.2f}" for r in ice]


def test_two_calibrant_lines_near_ice_lines_are_not_ice():
    """Corundum's 3.48 and 2.09 Å lines lie within 1.1 % of ice lines; ice shows its
    3.90/3.67/3.44 Å triplet."""
    geometry = Geometry(beam_x=512.0, beam_y=512.0, pixel_size_mm=0.172, distance_mm=150.0,
                        wavelength_a=1.0)
    yy, xx = np.mgrid[:1024, :1024]
    r = np.hypot(xx - 512, yy - 512)
    mean = 20.0 + sum(300 * np.exp(-0.5 * ((r - geometry.radius_px(d)) / 1.2) ** 2)
                      for d in (3.479, 2.085))
    frame = Frame(np.random.default_rng(0).poisson(mean).astype(np.float32), geometry)
    found = witnessed(frame, (512.0, 512.0))
    assert found.evidence["ice_ring"].features[0] == ("ice_lines", 0.0)
    assert found.evidence["ice_ring"].sentence == ""


def test_ice_is_absent_only_where_the_centre_is_trusted_and_the_lines_were_looked_at():
    frame, _, centre = clean("square1k", seed=2)
    rings = analyse_rings(frame, centre)
    looked = witness_frame(frame, centre, rings, trusted_centre=True).evidence["ice_ring"]
    assert dict(looked.features)["ice_absent"] == 1.0
    assert looked.sentence == ""
    assert looked.measured.startswith("no sharp ring at ice's lines (3.90")
    unsure = witness_frame(frame, centre, rings).evidence["ice_ring"]
    assert dict(unsure.features)["ice_absent"] == 0.0 and unsure.measured == ""
    iced, _, _ = clean("square1k", seed=2, ice=(20.0, 0.002, 0.0, 0),
                       labels=(0, 0, 0, 0, 0, 1, 0))
    found = witness_frame(iced, centre, analyse_rings(iced, centre), trusted_centre=True)
    assert dict(found.evidence["ice_ring"].features)["ice_absent"] == 0.0


@pytest.mark.parametrize("axis", [30.0, 120.0])
def test_a_nylon_fibres_paired_arcs_are_found_at_its_line_and_axis(axis):
    fibre = tuple((strength, d, 0.012, axis, 40.0, 1) for strength, d in ((4.0, 4.4), (2.8, 3.7)))
    frame, _, centre = clean("pilatus6m", seed=2, loop_rings=fibre,
                             labels=(1, 0, 0, 0, 0, 0, 0))
    arcs = analyse_rings(frame, centre).arcs
    assert arcs.d_a == pytest.approx(4.4, rel=0.02)
    assert abs((arcs.chi_deg - axis + 90) % 180 - 90) <= 10
    assert 20 <= arcs.width_deg <= 60
    said = witnessed(frame, centre).evidence["loop_scattering"].sentence
    assert said.startswith(f"paired arcs at {arcs.d_a:.2f} Å") and "nylon's 4.4 Å line" in said


def test_a_frame_without_a_loop_shows_no_paired_arcs(pilatus):
    frame, _, centre = pilatus
    arcs = analyse_rings(frame, centre).arcs
    assert arcs is None or arcs.significance < 5
    assert witnessed(frame, centre).evidence["loop_scattering"].sentence == ""


def test_spots_are_counted_and_hot_pixels_set_apart():
    rng = np.random.default_rng(4)
    geometry = Geometry(beam_x=600.0, beam_y=600.0, pixel_size_mm=0.172, distance_mm=200.0,
                        wavelength_a=1.0)
    mean = np.full((1200, 1200), 2.0)
    yy, xx = np.mgrid[-3:4, -3:4]
    ys, xs = rng.integers(20, 1180, 150), rng.integers(20, 1180, 150)
    for y, x in zip(ys, xs, strict=True):
        mean[y - 3:y + 4, x - 3:x + 4] += 300 * np.exp(-(xx ** 2 + yy ** 2) / 2.0)
    counts = rng.poisson(mean).astype(np.float32)
    hot = rng.integers(20, 1180, (12, 2))
    counts[hot[:, 0], hot[:, 1]] = 5000
    found = find_spots(Frame(counts, geometry))
    assert abs(found.n_spots - 150) <= 6  # a few spots drawn on top of each other merge
    assert found.n_hot_pixels == 12
    assert found.background == pytest.approx(2.0, rel=0.05)
    assert found.gain == pytest.approx(1.0, abs=0.1)
    outer = np.hypot(xs - 600, ys - 600)
    assert found.resolution_a == pytest.approx(
        float(geometry.d_spacing(np.quantile(outer, 0.95))), rel=0.1)


def test_an_empty_frame_has_no_spots_and_no_resolution():
    frame = Frame(np.random.default_rng(1).poisson(1.0, (512, 512)).astype(np.float32),
                  Geometry(beam_x=256.0, beam_y=256.0, pixel_size_mm=0.172,
                           distance_mm=200.0, wavelength_a=1.0))
    found = find_spots(frame)
    assert found.n_spots <= 2 and found.resolution_a is None


def test_diffuse_clouds_raise_the_background_texture(pilatus):
    frame, _, centre = pilatus
    cloudy, _, _ = clean("pilatus6m", diffuse=(1.0, 6.0, 0.0, 0.0, 0.5),
                         labels=(0, 0, 0, 1, 0, 0, 0))
    quiet = witnessed(frame, centre).evidence["diffuse_scattering"]
    diffuse = witnessed(cloudy, centre).evidence["diffuse_scattering"]
    assert diffuse.features[0][1] > 2 * quiet.features[0][1]
    assert diffuse.sentence.startswith("the background between the spots varies by")


@pytest.mark.parametrize("pixels", [
    np.zeros((512, 512), np.float32),  # blank
    np.random.default_rng(0).poisson(3, (8, 8)).astype(np.float32),  # tiny
    np.random.default_rng(0).poisson(3, (3, 2000)).astype(np.float32),  # a strip
    np.where(np.arange(256 * 256).reshape(256, 256) == 5, 1.0, np.nan).astype(np.float32),
], ids=["blank", "tiny", "strip", "one-valid-pixel"])
def test_degenerate_frames_get_witnesses_not_exceptions(pixels):
    geometry = Geometry(beam_x=10.0, beam_y=10.0, pixel_size_mm=0.172, distance_mm=200.0,
                        wavelength_a=1.0)
    for centre in ((10.0, 10.0), (1e6, -1e6)):  # a centre far off the detector too
        found = witness_frame(Frame(pixels, geometry), centre)
        assert found.spots.n_spots >= 0 and found.evidence["artifact"].sentence == ""


def test_the_neighbour_median_matches_a_sort_with_gaps_and_edges():
    from mxqc.witness.artefacts import NEIGHBOURS, _beside

    rng = np.random.default_rng(0)
    mean = rng.gamma(3.0, 10.0, (40, 60))
    mean[rng.random(mean.shape) < 0.3] = np.nan  # gaps and spots leave holes
    mean[5, 20:40] = np.nan  # a whole stretch without neighbours
    padded = np.pad(mean, ((0, 0), (NEIGHBOURS, NEIGHBOURS)), constant_values=np.nan)
    around = np.stack([padded[:, NEIGHBOURS + d:NEIGHBOURS + d + mean.shape[1]]
                       for d in range(-NEIGHBOURS, NEIGHBOURS + 1) if d], axis=-1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(around, axis=-1)
    np.testing.assert_allclose(_beside(mean), expected, equal_nan=True)


def test_the_neighbours_median_is_numpys_nanmedian():
    rng = np.random.default_rng(4)
    values = rng.normal(size=(8, 40, 30))
    values[rng.random(values.shape) < 0.3] = np.nan  # every count of valid neighbours
    values[:, 0, 0] = np.nan  # none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(values, axis=0)
    assert np.array_equal(nan_median(values), expected, equal_nan=True)
