import numpy as np
import pytest

from mxqc.represent import STATISTICS, polar, polar_radius, radial_features, shadow_rays


def radial_image(centre, profile, shape=(512, 512)):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    r = np.hypot(xx - centre[0], yy - centre[1])
    return profile(r).astype(np.uint8), r


def test_layer_statistics_follow_a_linear_profile():
    centre = (300.0, 220.0)
    image, _ = radial_image(centre, lambda r: np.clip(r, 0, 255))
    f = radial_features(image, centre, exclude_shadow=False)
    assert f.values.shape == (len(STATISTICS), 240)
    stats = dict(zip(STATISTICS, f.values, strict=False))
    for r in (10, 50, 150, 200):
        assert stats["mean"][r] == pytest.approx(r, abs=0.5)
        assert stats["median"][r] == pytest.approx(r, abs=0.5)
        assert stats["min"][r] >= r - 1 and stats["max"][r] <= r + 1
        assert stats["p05"][r] <= stats["median"][r] <= stats["p95"][r]
        assert stats["var"][r] < 0.4  # a layer spans one pixel of radius
    assert f.vector.shape == (7 * 240,)


def test_percentiles_interpolate_like_numpy():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (512, 512), dtype=np.uint8)
    centre = (255.5, 255.5)
    f = radial_features(image, centre, exclude_shadow=False)
    yy, xx = np.mgrid[0:512, 0:512]
    layer = np.rint(np.hypot(xx - 255.5, yy - 255.5)).astype(int)
    pixels = image[layer == 100].astype(float)
    stats = dict(zip(STATISTICS, f.values[:, 100], strict=False))
    assert stats["p05"] == pytest.approx(np.percentile(pixels, 5))
    assert stats["p95"] == pytest.approx(np.percentile(pixels, 95))
    assert stats["var"] == pytest.approx(np.var(pixels))
    assert stats["mean"] == pytest.approx(pixels.mean())


def test_layers_beyond_the_image_copy_the_previous_layer():
    image = np.full((512, 512), 90, np.uint8)
    f = radial_features(image, (20.0, 20.0), exclude_shadow=False)
    assert np.all(f.values[:, 239] == f.values[:, 200])


def test_beam_stop_arm_is_excluded():
    centre = (256.0, 256.0)
    image, _ = radial_image(centre, lambda r: 120 + 0 * r)
    yy, xx = np.mgrid[0:512, 0:512]
    image[(np.abs(yy - 256) < 3) & (xx > 256)] = 255  # a thin white arm to the east
    rays = shadow_rays(image, centre)
    assert rays.size and set(rays) <= set(range(-8, 9)) | set(range(1016, 1024))
    with_exclusion = radial_features(image, centre)
    without = radial_features(image, centre, exclude_shadow=False)
    assert without.values[STATISTICS.index("max"), 150] == 255
    assert with_exclusion.values[STATISTICS.index("max"), 150] == 120


def test_polar_ring_becomes_a_column():
    centre = (300.0, 220.0)
    image, _ = radial_image(centre, lambda r: np.where(np.abs(r - 100) < 1.5, 0, 200))
    p = polar(image, centre, mode="min")
    assert p.max_radius == pytest.approx(211.0)
    column = round(100 / p.max_radius * 512)
    assert (p.image[:, column] == 0).mean() > 0.95
    assert (p.image[:, column + 10] == 200).all()


def test_polar_max_fills_outside_with_zero_and_rows_are_angles():
    centre = (255.5, 255.5)
    image = np.full((512, 512), 200, np.uint8)
    image[250:262, 300:] = 50  # a dark band to the east: angle 0 → row 0
    p = polar(image, centre, mode="max")
    assert p.max_radius == pytest.approx(np.hypot(255.5, 255.5))
    assert p.image[0, 200] == 50 and p.image[128, 200] == 200
    assert (p.image[:, -1] == 0).mean() > 0.95  # only the 4 diagonals reach the corners


def test_polar_rejects_border_centre():
    with pytest.raises(ValueError, match="border"):
        polar(np.zeros((64, 64), np.uint8), (0.0, 10.0))
    assert polar_radius((64, 64), (10.0, 20.0), "min") == 10.0
