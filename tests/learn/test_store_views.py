"""Cached arrays of a data set, the views models see, and threshold tuning."""

import os

import numpy as np
import pytest

from mxqc.dataset import load_dataset, write_labels
from mxqc.learn import store
from mxqc.learn.thresholds import tune_thresholds
from mxqc.learn.views import image_view, view_batch


def test_images_are_decoded_once_and_the_cache_follows_the_labels(tiny_dataset, tmp_path):
    first = store.images(tiny_dataset, "train")
    assert first.shape == (len(tiny_dataset.splits["train"].names), 64, 64)
    cached = sorted((tiny_dataset.root / store.CACHE_DIR).glob("images-train-*.npy"))
    assert cached
    np.testing.assert_array_equal(store.images(tiny_dataset, "train"), first)
    # a changed label file is a different data set: a new cache entry, never the stale one
    root = tiny_dataset.root
    table = tiny_dataset.splits["train"]
    write_labels(root / "labels_train.csv", table.names[:-1], table.labels[:-1])
    try:
        shorter = store.images(load_dataset(root), "train")
        assert len(shorter) == len(first) - 1
    finally:
        write_labels(root / "labels_train.csv", table.names, table.labels)
        os.utime(root / "labels_train.csv")


def test_file_centres_are_the_simulated_truth(tiny_dataset):
    where = store.centres(tiny_dataset, "val")
    assert store.centre_method(tiny_dataset) == "file"
    assert where.shape == (len(tiny_dataset.splits["val"].names), 2)
    assert ((where > 0) & (where < 64)).all()


def test_found_centres_when_asked(tiny_dataset):
    found = store.centres(tiny_dataset, "val", "naive")
    np.testing.assert_allclose(found, 31.5)


def test_cartesian_view_keeps_a_thin_ring_that_nearest_would_drop():
    image = np.full((512, 512), 255, np.uint8)
    yy, xx = np.mgrid[:512, :512]
    image[np.abs(np.hypot(xx - 255.5, yy - 255.5) - 150) < 0.5] = 0
    small = image_view(image, "cartesian", 64)
    assert small.shape == (64, 64)
    assert small[32, 32 + 150 // 8 - 1: 32 + 150 // 8 + 1].min() < 230


@pytest.mark.parametrize("size", [128, 100])  # a whole and a fractional block
def test_peak_pooling_keeps_a_one_pixel_streak_that_area_pooling_fades(size):
    image = np.full((512, 512), 255, np.uint8)
    image[:, 301] = 0  # a readout streak one pixel wide, full strength
    area, peak = image_view(image, "cartesian", size, pooling="area+peak")
    column = round(301 * size / 512)
    assert area.min() > 150  # averaged with 3+ blank columns
    assert (peak[:, column - 1: column + 2].min(axis=1) == 0).all()
    assert (np.delete(peak, np.s_[column - 1: column + 2], axis=1) == 255).all()
    np.testing.assert_array_equal(area, image_view(image, "cartesian", size))
    with pytest.raises(ValueError, match="pooling must be one of"):
        image_view(image, "cartesian", size, pooling="max")


def test_symmetry_channel_is_blank_for_rings_and_shows_a_gain_ramp():
    yy, xx = np.mgrid[:512, :512]
    centre = (290.0, 231.0)  # off the image centre, as beams are
    r = np.hypot(xx - centre[0], yy - centre[1])
    rings = (200 - 80 * np.exp(-0.5 * ((r - 120) / 6) ** 2) - 0.1 * r).astype(np.uint8)
    area, residual = image_view(rings, "cartesian", 128, centre, pooling="area+symmetry")
    np.testing.assert_array_equal(area, image_view(rings, "cartesian", 128))
    assert np.abs(residual.astype(int) - 128).max() <= 1  # centrosymmetric: nothing left
    ramp = (rings * np.linspace(0.6, 1.0, 512)[None, :]).astype(np.uint8)  # gains 0.6 → 1
    _, residual = image_view(ramp, "cartesian", 128, centre, pooling="area+symmetry")
    row = residual[round(centre[1] / 4)].astype(int) - 128
    beam = round(centre[0] / 4)
    assert abs(row[beam]) <= 1
    assert row[beam + 50] > 10 and row[beam - 50] < -10  # the ramp's sign on each side
    with pytest.raises(ValueError, match="needs a beam centre"):
        image_view(rings, "cartesian", 128, pooling="area+symmetry")
    with pytest.raises(ValueError, match="needs the Cartesian view"):
        image_view(rings, "polar-max", 128, centre, pooling="area+symmetry")


def test_polar_view_turns_a_centred_ring_into_a_column():
    image = np.full((512, 512), 255, np.uint8)
    yy, xx = np.mgrid[:512, :512]
    image[np.abs(np.hypot(xx - 300, yy - 200) - 100) < 2] = 0
    view = image_view(image, "polar-min", 128, centre=(300, 200))
    dark_columns = np.flatnonzero(view.mean(axis=0) < 200)
    radius_min = min(300, 211, 200, 311)  # distance to the nearest edge
    expected = 100 / radius_min * 128
    assert abs(dark_columns.mean() - expected) < 2
    with pytest.raises(ValueError, match="needs a beam centre"):
        view_batch(image[None], "polar-max", 64)


def test_thresholds_maximise_f1_per_class():
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    scores = np.array([[0.35, 0.1], [0.4, 0.2], [0.3, 0.9], [0.1, 0.3]])
    thresholds = tune_thresholds(truth, scores)
    assert 0.3 <= thresholds[0] < 0.35  # the only cut that keeps both positives and no negative
    assert 0.3 <= thresholds[1] < 0.9
