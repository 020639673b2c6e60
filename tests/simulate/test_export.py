"""Simulated frames written as detector files read back with the same counts and geometry."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mxqc.classes import CLASSES
from mxqc.cli import app
from mxqc.io import read_frames
from mxqc.simulate import render_scene
from mxqc.simulate.export import read_scenes, simulate_series, write_simulated

runner = CliRunner(env={"COLUMNS": "200"})


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("fmt", ["cbf", "smv", "h5"])
def test_written_frames_equal_generated_counts(tmp_path, fmt):
    n, seed = 3, 11
    names = write_simulated(tmp_path, n, seed=seed, detector="square256", fmt=fmt,
                            frames_per_file=3)
    if fmt == "h5":  # one master file holding a 3-frame series
        expected = simulate_series(n, seed=seed * 1_000_003, detector="square256",
                                   series_length=3)
    else:  # one file per frame, each seeded by its position
        expected = [simulate_series(1, seed=seed * 1_000_003 + i, detector="square256")[0]
                    for i in range(n)]
    truth = rows(tmp_path / "truth.csv")
    read = [f for t in truth if t["frame"] == "0" for f in read_frames(tmp_path / t["file"])]
    assert len(read) == n == len(names)
    for frame, sim, t in zip(read, expected, truth, strict=True):
        counts = sim.counts
        if fmt == "smv":  # 16-bit SMV saturates at 65535
            counts = np.minimum(counts, 65535)
        assert np.array_equal(frame.pixels, counts, equal_nan=True)
        g = frame.geometry
        assert g.beam_x == pytest.approx(float(t["beam_x"]), abs=0.01)
        assert g.beam_y == pytest.approx(float(t["beam_y"]), abs=0.01)
        assert g.distance_mm == pytest.approx(float(t["distance_mm"]), abs=1e-3)
        assert g.wavelength_a == pytest.approx(float(t["wavelength_a"]), rel=1e-4)


def test_cbf_sweeps_share_their_geometry_and_differ_between_sweeps(tmp_path):
    write_simulated(tmp_path, 6, seed=5, detector="square256", fmt="cbf", sweep=3)
    geometry = [tuple(float(t[k]) for k in ("beam_x", "beam_y", "distance_mm", "wavelength_a"))
                for t in rows(tmp_path / "truth.csv")]
    assert geometry[0] == geometry[1] == geometry[2]
    assert geometry[3] == geometry[4] == geometry[5]
    assert geometry[0] != geometry[3]
    frames = [next(iter(read_frames(tmp_path / f"sim_5_{i:06d}.cbf"))) for i in range(3)]
    assert frames[0].geometry.beam_x == pytest.approx(geometry[2][0], abs=0.01)
    assert not np.array_equal(frames[0].pixels, frames[1].pixels)  # same sweep, new frame


def test_labels_and_truth_files(tmp_path):
    names = write_simulated(tmp_path, 4, seed=2, detector="square256", fmt="png")
    labels = rows(tmp_path / "labels.csv")
    assert list(labels[0]) == ["image", *CLASSES]
    assert [r["image"] for r in labels] == names
    scenes = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert [s["image"] for s in scenes] == names
    for row, scene in zip(labels, scenes, strict=True):
        assert [int(row[c]) for c in CLASSES] == scene["labels"]
    assert (tmp_path / f"{names[0]}.png").is_file()


def test_scenes_read_back_from_truth_render_the_written_counts(tmp_path):
    names = write_simulated(tmp_path, 6, seed=7, detector="square256", fmt="cbf",
                            rates={"loop_scattering": 0.9, "ice_ring": 0.5})
    scenes = read_scenes(tmp_path)
    assert list(scenes) == names
    assert any(len(s.loop_rings) for s in scenes.values())
    assert len(set(scenes.values())) == 6  # hashable: JSON lists came back as tuples
    for name in names:
        written = next(iter(read_frames(tmp_path / f"{name}.cbf"))).pixels
        np.testing.assert_array_equal(render_scene(scenes[name]), written)


def test_cli_simulate_then_center_header_returns_truth(tmp_path):
    result = runner.invoke(app, ["simulate", str(tmp_path), "-n", "3", "--detector", "square256",
                                 "--format", "cbf", "--seed", "5", "--rates", "ice_ring=0.9"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["center", str(tmp_path), "--method", "header", "--json"])
    assert result.exit_code == 0, result.output
    centres = json.loads(result.stdout[result.stdout.index("{"):])["centres"]
    truth = {t["file"]: t for t in rows(tmp_path / "truth.csv")}
    assert len(centres) == 3
    for c in centres:
        t = truth[c["path"].split("/")[-1]]
        assert c["x"] == pytest.approx(float(t["beam_x"]), abs=0.01)
        assert c["y"] == pytest.approx(float(t["beam_y"]), abs=0.01)


def test_cli_simulate_rejects_bad_options(tmp_path):
    assert runner.invoke(app, ["simulate", str(tmp_path), "--detector", "nope"]).exit_code == 2
    assert runner.invoke(app, ["simulate", str(tmp_path), "--rates", "ice"]).exit_code == 2
    assert runner.invoke(app, ["simulate", str(tmp_path), "--format", "gif"]).exit_code == 2


def test_gallery_draws_every_class(tmp_path):
    import matplotlib.image

    out = tmp_path / "gallery.png"
    result = runner.invoke(app, ["simulate", "--gallery", str(out), "--detector", "square256"])
    assert result.exit_code == 0, result.output
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 400 and image.shape[1] > 800  # 2 rows × 4 labelled panels


def test_every_artifact_frame_has_a_visible_kind():
    from mxqc.simulate import sample_scene

    labels = (0, 0, 0, 0, 1, 0, 0)
    for seed in range(30):
        scene = sample_scene(np.random.default_rng(seed), "square256", labels, seed=seed)
        assert set(scene.artifacts) & {"dead_columns", "streak", "shutter_band", "gap_cross"}


def test_workers_give_identical_output(tmp_path):
    one = write_simulated(tmp_path / "one", 4, seed=9, detector="square256", fmt="cbf")
    two = write_simulated(tmp_path / "two", 4, seed=9, detector="square256", fmt="cbf",
                          workers=2)
    assert one == two
    for name in ("labels.csv", "truth.csv", "truth.jsonl", f"{one[2]}.cbf"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
