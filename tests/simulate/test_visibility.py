"""Labels that mean "visible", and sweeps whose sample and detector persist."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from mxqc.classes import CLASSES
from mxqc.simulate import render, response, sample_scene
from mxqc.simulate.export import write_simulated
from mxqc.simulate.generate import judge_scene
from mxqc.simulate.sweep import simulate_sweep, sweep_frame
from mxqc.simulate.visibility import THRESHOLDS


def drawn_scene(name, **changes):
    """A plain frame (weak crystal, ordinary background) that draws class ``name``."""
    labels = tuple(int(c == name) for c in CLASSES)
    scene = sample_scene(np.random.default_rng(1), "square1k", (0,) * 7, seed=1)
    base = dict(labels=labels, crystal_scale=60.0, air_scatter=2.0, flat_background=0.3,
                exposure=2.0, tilt_deg=0.0, beam_x=511.5, beam_y=511.5, nozzle_angle_deg=None)
    return replace(scene, **{**base, **changes})


FAINT_AND_CLEAR = {
    "loop_scattering": ({"loop_rings": ((0.005, 15.8, 0.003, 0.0, 360.0, 0),)},
                        {"loop_rings": ((6.0, 15.8, 0.003, 0.0, 360.0, 0),)}),
    "background_ring": ({"water": (0.005, 3.3, 0.04)}, {"water": (8.0, 3.3, 0.04)}),
    "strong_background": ({"air_scatter": 4.02, "flat_background": 0.6},
                          {"air_scatter": 20.0, "flat_background": 3.0}),
    "diffuse_scattering": ({"diffuse": (0.0005, 6.0, 0.0, 0.0, 0.0), "crystal_scale": 400.0},
                           {"diffuse": (1.0, 6.0, 0.0, 0.0, 0.5), "crystal_scale": 400.0}),
    # a dead column where nothing was recorded cannot be seen; a shutter band can
    "artifact": ({"artifacts": ("dead_columns",), "crystal_scale": 0.0, "air_scatter": 0.0,
                  "flat_background": 0.0},
                 {"artifacts": ("shutter_band",)}),
    "ice_ring": ({"ice": (0.01, 0.002, 0.0, 0)}, {"ice": (20.0, 0.002, 0.0, 0)}),
    # a smooth gain ramp carries no edge; a dead or hot module does
    "non_uniform_detector": ({"nonuniform": ("gradient",), "nonuniform_strength": 0.15},
                             {"nonuniform": ("dead_module",), "nonuniform_strength": 0.3}),
}


@pytest.mark.parametrize("name", CLASSES)
def test_a_faint_anomaly_is_labelled_0_and_a_clear_one_1(name):
    faint, clear = (judge_scene(drawn_scene(name, **changes))
                    for changes in FAINT_AND_CLEAR[name])
    c = CLASSES.index(name)
    assert faint.scene.labels[c] == clear.scene.labels[c] == 1  # both drawn
    assert faint.visibility[name] < THRESHOLDS[name] <= clear.visibility[name]
    assert faint.labels[c] == 0 and clear.labels[c] == 1
    assert faint.labels == (0,) * 7  # nothing else is labelled on these frames
    assert all(faint.visibility[other] is None for other in CLASSES if other != name)


def test_sweep_keeps_its_sample_and_detector_while_the_crystal_turns():
    labels = (1, 1, 0, 1, 1, 1, 1)
    frames = simulate_sweep(12, seed=4, detector="square256", labels=labels)
    first = frames[0].scene
    for frame in frames[1:]:
        s = frame.scene
        assert (s.beam_x, s.beam_y, s.distance_mm, s.wavelength_a, s.water, s.diffuse,
                s.nonuniform, s.exposure, s.cell) == (
            first.beam_x, first.beam_y, first.distance_mm, first.wavelength_a, first.water,
            first.diffuse, first.nonuniform, first.exposure, first.cell)
        assert s.sample_key == first.sample_key and s.seed != first.seed
    gains = [response.gain_maps(f.scene, render.sample_rng(f.scene, render.GAIN_STREAM))[1]
             for f in frames]
    assert all(np.array_equal(gains[0], g) for g in gains[1:])
    # the crystal turns by the oscillation from frame to frame
    u0, u1 = (np.reshape(f.scene.orientation, (3, 3)) for f in frames[:2])
    angle = np.rad2deg(np.arccos((np.trace(u1 @ u0.T) - 1) / 2))
    assert angle == pytest.approx(first.oscillation_deg, abs=1e-6)
    # artefacts come and go; the sample's classes stay
    with_artifacts = [bool(f.scene.artifacts) for f in frames]
    assert any(with_artifacts) and not all(with_artifacts)
    for name in ("loop_scattering", "background_ring", "non_uniform_detector"):
        c = CLASSES.index(name)
        assert all(f.scene.labels[c] == 1 for f in frames)
        assert np.mean([f.labels[c] for f in frames]) >= 0.9, name


def test_ice_can_form_part_way_through_a_sweep_and_then_stays():
    base = simulate_sweep(1, seed=2, detector="square256", labels=(0, 0, 0, 0, 0, 1, 0))[0].scene
    rng = np.random.default_rng(0)
    scenes = [sweep_frame(base, i, rng, ice_from=4) for i in range(1, 8)]
    ice = CLASSES.index("ice_ring")
    assert [s.labels[ice] for s in scenes] == [0, 0, 0, 1, 1, 1, 1]
    assert [s.ice[0] > 0 for s in scenes] == [False] * 3 + [True] * 4
    assert all(s.ice == base.ice for s in scenes[3:])


def test_labels_file_holds_the_visible_labels_and_truth_what_was_drawn(tmp_path):
    write_simulated(tmp_path, 8, seed=3, detector="square256", fmt="cbf", sweep=4)
    with open(tmp_path / "labels.csv", newline="") as f:
        labels = {r["image"]: [int(r[c]) for c in CLASSES] for r in csv.DictReader(f)}
    with open(tmp_path / "truth.csv", newline="") as f:
        sweeps = [r["sweep"] for r in csv.DictReader(f)]
    assert sweeps == ["sim_3_000000"] * 4 + ["sim_3_000004"] * 4
    with open(tmp_path / "truth.jsonl") as f:
        rows = [json.loads(line) for line in f]
    for row in rows:
        visible = [row["visible"][c] for c in CLASSES]
        assert labels[row["image"]] == visible
        for c in CLASSES:
            assert row["visible"][c] <= row["drawn"][c]
            assert (row["visibility"][c] is None) == (row["drawn"][c] == 0)
            if row["drawn"][c]:
                assert row["visible"][c] == int(row["visibility"][c] >= THRESHOLDS[c])


def test_visibility_grows_with_the_strength_of_what_was_drawn():
    scores = [judge_scene(drawn_scene(
        "loop_scattering", loop_rings=((s, 15.8, 0.003, 0.0, 360.0, 0),))).visibility[
        "loop_scattering"] for s in (0.02, 0.1, 0.5, 2.5)]
    assert scores == sorted(scores)
    assert scores[0] < THRESHOLDS["loop_scattering"] <= scores[-1]
