import numpy as np
import pytest

from mxqc.coords import ImageMapping


def test_resize_mapping_uses_pixel_centres():
    m = ImageMapping.resize((2048, 1024), (512, 512))
    # the frame centre maps to the image centre; image pixel 0 covers raw columns 0-1 and
    # rows 0-3, so their centres (x 0.5, y 1.5) map onto its centre
    assert m.to_image(511.5, 1023.5) == pytest.approx((255.5, 255.5))
    assert m.to_image(0.5, 1.5) == pytest.approx((0.0, 0.0))


def test_roundtrip_with_deleted_rows_and_crop():
    rows = np.r_[25:100, 117:300]  # a 17-px gap deleted, 25-px crop
    cols = np.arange(25, 275)
    m = ImageMapping((325, 300), rows, cols, (128, 128))
    xs, ys = np.array([30.0, 150.3, 260.0]), np.array([40.0, 150.0, 290.5])
    bx, by = m.to_raw(*m.to_image(xs, ys))
    assert np.allclose(bx, xs) and np.allclose(by, ys)
    # a raw row after the deleted gap sits 17 rows closer to the top in the image
    _, y_img = m.to_image(0, 117)
    _, y_img_before = m.to_image(0, 99)
    assert y_img - y_img_before == pytest.approx(128 / len(rows))


def test_extrapolates_beyond_kept_range():
    m = ImageMapping.resize((100, 100), (50, 50))
    assert m.to_raw(*m.to_image(-30.0, 140.0)) == pytest.approx((-30.0, 140.0))
