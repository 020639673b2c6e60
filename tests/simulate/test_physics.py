"""The simulator's physics: rings where Bragg's law puts them, shadows, gains, determinism."""

from dataclasses import replace

import numpy as np
import pytest

from mxqc.scatterers import ICE_IC, KAPTON, NYLON_A
from mxqc.simulate import render, response, sample_scene, simulate_frame

NO_LABELS = (0, 0, 0, 0, 0, 0, 0)


def quiet_scene(detector="square1k", **changes):
    """A scene with no crystal and no background: only what the test adds."""
    scene = sample_scene(np.random.default_rng(0), detector, NO_LABELS, seed=0)
    base = dict(crystal_scale=0.0, air_scatter=0.0, flat_background=0.0, tilt_deg=0.0,
                beam_x=511.5, beam_y=511.5)
    return replace(scene, **{**base, **changes})


def radial_profile(image, scene):
    yy, xx = np.indices(image.shape)
    r = np.rint(np.hypot(xx - scene.beam_x, yy - scene.beam_y)).astype(int)
    return np.bincount(r.ravel(), image.ravel()) / np.maximum(np.bincount(r.ravel()), 1)


def ring_radius(scene, d, window=15):
    image = render.background(scene, render.pixel_geometry(scene))
    profile = radial_profile(image, scene)
    expected = scene.distance_mm * np.tan(2 * np.arcsin(scene.wavelength_a / (2 * d))) \
        / scene.model.pixel_size_mm
    lo, hi = int(expected) - window, int(expected) + window
    return lo + np.argmax(profile[lo:hi]), expected


@pytest.mark.parametrize("wavelength,distance", [(0.9, 180.0), (1.3, 150.0), (0.7, 250.0)])
def test_ice_ring_at_bragg_radius(wavelength, distance):
    scene = quiet_scene(wavelength_a=wavelength, distance_mm=distance,
                        ice=(50.0, 0.002, 0.0, 1))  # cubic ice: the 3.67 Å ring is strongest
    found, expected = ring_radius(scene, ICE_IC[0][0])
    assert abs(found - expected) <= 1.0


def test_water_ring_radius_scales_with_distance():
    far = quiet_scene(distance_mm=250.0, wavelength_a=1.0, water=(10.0, 3.3, 0.03))
    near = replace(far, distance_mm=150.0)
    r_far, expected_far = ring_radius(far, 3.3, window=40)
    r_near, expected_near = ring_radius(near, 3.3, window=40)
    assert r_near < r_far  # r = D·tan 2θ: a closer detector puts the ring at a smaller radius
    assert abs(r_far - expected_far) <= 3 and abs(r_near - expected_near) <= 3


def test_kapton_rings_at_bragg_radius():
    scene = quiet_scene(wavelength_a=1.0, distance_mm=200.0,
                        loop_rings=tuple((20.0 * rel, d, width, 0.0, 360.0, 0)
                                         for d, rel, width in KAPTON))
    for d, _, _ in KAPTON:
        found, expected = ring_radius(scene, d, window=10)
        assert abs(found - expected) <= 1.0


def test_nylon_fibre_arcs_come_in_friedel_pairs():
    scene = quiet_scene(wavelength_a=1.0, distance_mm=200.0,
                        loop_rings=((20.0, NYLON_A[0], 0.01, 30.0, 40.0, 1),))
    geometry = render.pixel_geometry(scene)
    image = render.background(scene, geometry)
    ring = np.abs(geometry.s - 1 / NYLON_A[0]) < 0.005
    azimuth = np.rad2deg(geometry.phi)
    on_arc = ring & (np.abs(azimuth - 30.0) < 10)
    on_mate = ring & (np.abs(azimuth - (30.0 - 180.0)) < 10)
    across = ring & (np.abs(azimuth - 120.0) < 10)
    assert image[on_arc].mean() > 10 and image[on_mate].mean() > 10
    assert image[across].mean() < 0.01 * image[on_arc].mean()


@pytest.mark.parametrize("mean", [0.05, 1.7, 12.0, 45.0])
def test_poisson_counts_have_poisson_statistics(mean):
    counts = response.poisson(np.full(400_000, mean, np.float32), np.random.default_rng(0))
    assert counts.mean() == pytest.approx(mean, rel=0.01)
    assert counts.var() == pytest.approx(mean, rel=0.02)
    assert (counts == 0).mean() == pytest.approx(np.exp(-mean), abs=0.002)


def test_tile_gains_make_steps_at_tile_borders():
    flat = quiet_scene(flat_background=200.0)
    uneven = replace(flat, nonuniform=("module_gains",), nonuniform_strength=0.4)

    def step(scene):
        _, gains = response.gain_maps(scene, np.random.default_rng(1))
        counts, _ = response.record(scene, np.full(scene.model.shape, 200.0, np.float32),
                                    gains, np.random.default_rng(1))
        left, right = counts[:, 500:511].mean(), counts[:, 513:524].mean()
        return abs(left / right - 1)

    assert step(uneven) > 0.05
    assert step(flat) < 0.06  # only the ±2% module spread everyone has


def test_beam_stop_shadow_contains_the_centre():
    for seed in range(5):
        frame = simulate_frame(seed, detector="square256")
        s = frame.scene
        shadow = render.shadows(s)
        assert shadow[round(s.beam_y), round(s.beam_x)] == render.SHADOW_TRANSMISSION


def test_same_seed_same_frame_and_different_seed_different_frame():
    a = simulate_frame(7, detector="square256")
    b = simulate_frame(7, detector="square256")
    c = simulate_frame(8, detector="square256")
    assert a.scene == b.scene
    assert np.array_equal(a.counts, b.counts, equal_nan=True)
    assert not np.array_equal(a.counts, c.counts, equal_nan=True)


def test_pilatus_frames_have_gaps_and_integer_counts():
    frame = simulate_frame(3, detector="pilatus6m")
    assert frame.counts.shape == (2527, 2463)
    assert np.isnan(frame.counts).mean() == pytest.approx(0.0845, abs=0.001)
    valid = frame.counts[np.isfinite(frame.counts)]
    assert np.all(valid == np.round(valid)) and valid.min() >= 0


def test_ccd_tiles_are_separated_by_zero_count_seams_like_the_real_adsc():
    frame = simulate_frame(4, detector="ccd_2x2")
    counts = frame.counts
    middle = counts.shape[0] // 2
    row_medians = np.median(counts[:, 100:1000], axis=1)
    assert np.all(row_medians[middle - 2:middle + 3] == 0)  # 5 px, as in adsc.img
    assert row_medians[middle - 3] > 0 and row_medians[middle + 3] > 0
    assert np.all(np.median(counts[100:1000, middle - 2:middle + 3], axis=0) == 0)


def recorded_flat(artifact: str, seed: int):
    """(counts, change) of a flat 400-count exposure recorded with one ``artifact``."""
    flat = quiet_scene(flat_background=400.0, artifacts=(artifact,))
    return response.record(flat, np.full(flat.model.shape, 400.0, np.float32),
                           np.ones(flat.model.shape, np.float32), np.random.default_rng(seed))


def test_shutter_bands_change_the_exposure_visibly():
    for seed in range(20):
        counts, change = recorded_flat("shutter_band", seed)
        assert np.any(change != 0)
        rows = np.median(counts, axis=1) / np.median(counts)
        assert np.abs(rows - 1).max() >= 0.25  # a band of at least ±30 %, minus noise


def test_a_gap_cross_reads_what_its_enlarged_pixels_collect():
    for seed in range(10):
        counts, _ = recorded_flat("gap_cross", seed)
        rows = np.median(counts, axis=1) / 400.0
        columns = np.median(counts, axis=0) / 400.0
        for lines in (rows, columns):
            bright = np.flatnonzero(lines > 1.3)
            assert 2 <= len(bright) <= 6 and np.ptp(bright) == len(bright) - 1
            assert 1.4 <= lines[bright].mean() <= 3.1  # 1.5-3 times a pixel's area
        corner = counts[np.ix_(np.flatnonzero(rows > 1.3), np.flatnonzero(columns > 1.3))]
        assert np.median(corner) / 400.0 == pytest.approx(rows[rows > 1.3].mean() ** 2,
                                                          rel=0.1)
