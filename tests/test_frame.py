import numpy as np
import pytest

from mxqc.classes import CLASS_DESCRIPTIONS, CLASSES
from mxqc.frame import Geometry

GEOMETRY = Geometry(pixel_size_mm=0.172, distance_mm=300.0, wavelength_a=1.0)


def test_ice_ring_radius_matches_braggs_law():
    # d = 3.897 Å, λ = 1 Å: θ = asin(1/7.794); r = D·tan 2θ / pixel
    expected = 300.0 * np.tan(2 * np.arcsin(1 / 7.794)) / 0.172
    assert GEOMETRY.radius_px(3.897) == pytest.approx(expected)
    assert expected == pytest.approx(459.0, abs=0.1)


def test_radius_and_d_spacing_are_inverse():
    d = np.array([3.897, 3.669, 2.249, 1.5])
    assert np.allclose(GEOMETRY.d_spacing(GEOMETRY.radius_px(d)), d)


def test_unreachable_d_spacing_is_nan():
    assert np.isnan(GEOMETRY.radius_px(0.4))  # λ/2d > 1: no reflection


def test_missing_geometry_is_an_error():
    with pytest.raises(ValueError, match="distance_mm=None"):
        Geometry(pixel_size_mm=0.1, wavelength_a=1.0).d_spacing(100)


def test_class_order_is_canonical():
    assert CLASSES == ("loop_scattering", "background_ring", "strong_background",
                       "diffuse_scattering", "artifact", "ice_ring", "non_uniform_detector")
    assert all(CLASS_DESCRIPTIONS[c] for c in CLASSES)
