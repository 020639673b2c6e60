"""RefleX legacy formats: PNG negatives, .npy.bz2 with .info sidecar, plain .npy."""

import bz2
import io

import cv2
import numpy as np
import pytest

from mxqc.io import read_frame
from mxqc.normalise import normalise_frame


def test_png_is_read_as_normalised_negative(tmp_path):
    negative = np.full((64, 64), 255, np.uint8)
    negative[30:34, 30:34] = 0  # a strong (dark) spot
    cv2.imwrite(str(tmp_path / "img.png"), negative)
    frame = read_frame(tmp_path / "img.png")
    assert frame.normalised and frame.source.format == "reflex-png"
    assert frame.pixels[31, 31] == 255 and frame.pixels[0, 0] == 0
    # re-normalising at the same size gives the PNG back unchanged
    assert np.array_equal(normalise_frame(frame, size=64).image, negative)


def test_npy_bz2_with_info_sidecar(tmp_path):
    data = np.arange(40 * 30, dtype=np.int32).reshape(40, 30)
    buf = io.BytesIO()
    np.save(buf, data)
    (tmp_path / "f_0001.npy.bz2").write_bytes(bz2.compress(buf.getvalue()))
    (tmp_path / "f_0001.info").write_text(
        "beam_x 1.72\nbeam_y 3.44\ndistance 200.0\nwavelength 0.98\npixel_size 0.172\n")
    frame = read_frame(tmp_path / "f_0001.npy.bz2")
    assert np.array_equal(frame.pixels, data)
    g = frame.geometry
    assert g.beam_x == pytest.approx(10.0) and g.beam_y == pytest.approx(20.0)
    assert g.distance_mm == 200.0 and g.wavelength_a == 0.98
    assert frame.header["distance"] == "200.0"


def test_plain_npy_negative_values_are_gaps(tmp_path):
    data = np.ones((20, 20), np.float32)
    data[3] = -1
    np.save(tmp_path / "g.npy", data)
    frame = read_frame(tmp_path / "g.npy")
    assert np.isnan(frame.pixels[3]).all() and frame.gap_fraction == pytest.approx(0.05)
    assert not frame.geometry.has_beam
